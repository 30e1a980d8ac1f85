"""Language modeling and text generation: the project's main job."""

from unrolled.tasks.lm.config import LMDataConfig, LMModelConfig, LMRunConfig, LMSampleConfig
from unrolled.tasks.lm.run import (
    Evaluation,
    LoadedRun,
    RunError,
    evaluate_documents,
    evaluate_text,
    generate_text,
    latest_run,
    load_run,
    new_run_dir,
    run_info,
    train_lm,
)

__all__ = [
    "Evaluation",
    "LMDataConfig",
    "LMModelConfig",
    "LMRunConfig",
    "LMSampleConfig",
    "LoadedRun",
    "RunError",
    "evaluate_documents",
    "evaluate_text",
    "generate_text",
    "latest_run",
    "load_run",
    "new_run_dir",
    "run_info",
    "train_lm",
]
