"""The language-modeling task end to end: train a run, load it back, generate, evaluate, describe.

A run folder holds ``config.json`` (the resolved configuration: train, data, model, sample, corpus source),
``vocab.json``, the trainer's ``checkpoint/`` (weights, optimizer, RNG and progress, for exact ``--resume``),
``best/model.safetensors`` (best validation weights), ``metrics.csv`` and ``loss.png``. An n-gram run holds its
training token ids (``ngram_train_ids.safetensors``) instead, and refits its counts (deterministic, seconds) on load.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from unrolled.config_io import from_dict, to_dict
from unrolled.data.stream import StreamBatches, batchify
from unrolled.models.fixed_window import FixedWindowLM
from unrolled.models.language_model import RNNLanguageModel, RNNLMConfig
from unrolled.models.ngram import NGramLM
from unrolled.tasks.lm.callbacks import PrintSamples, prime_ids
from unrolled.tasks.lm.config import LMDataConfig, LMModelConfig, LMRunConfig, LMSampleConfig
from unrolled.tasks.lm.corpus import PreparedCorpus, TextCodec, prepare_corpus
from unrolled.tasks.lm.objectives import FixedWindowLMObjective, RecurrentLMObjective
from unrolled.text.vocab import Vocabulary
from unrolled.train.checkpoint import find_checkpoint, load_model_weights, read_json, write_json
from unrolled.train.config import TrainConfig
from unrolled.train.distributed import DistributedContext
from unrolled.train.trainer import Trainer, TrainResult

VOCAB_FILE = "vocab.json"
NGRAM_FILE = "ngram_train_ids.safetensors"
LN2 = math.log(2.0)


class RunError(ValueError):
    """A run folder that is missing, incomplete or not a language-model run (one-line message)."""


def new_run_dir(root: str | Path = "runs", prefix: str = "lm") -> Path:
    """A fresh folder ``root/prefix-YYYYmmdd-HHMMSS`` (suffixed if taken): never overwrites an earlier run."""
    root = Path(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{prefix}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{prefix}-{stamp}-{n}"
    return path


def latest_run(root: str | Path = "runs") -> Path:
    """The most recently modified run folder under ``root`` (what ``unrolled generate`` uses without RUN)."""
    root = Path(root)
    runs = [p for p in root.glob("*") if (p / "config.json").is_file()] if root.is_dir() else []
    if not runs:
        raise RunError(f"no run found under {root}/; train one with 'unrolled train lm' or pass a RUN folder")
    return max(runs, key=lambda p: (p / "config.json").stat().st_mtime)


# --- building ---------------------------------------------------------------------------------------------
def build_model(cfg: LMModelConfig, vocab_size: int, pad_id: int) -> nn.Module:
    """The trainable model of ``cfg.family`` (the n-gram family has none)."""
    if cfg.family == "rnn":
        return RNNLanguageModel(
            vocab_size,
            RNNLMConfig(
                cell=cfg.cell,
                embed_dim=cfg.embed_dim,
                hidden=cfg.hidden,
                layers=cfg.layers,
                dropout=cfg.dropout,
                tie_weights=cfg.tie_weights,
                recurrent_dropout=cfg.recurrent_dropout,
                zoneout=cfg.zoneout,
                residual=cfg.residual,
                cell_options=dict(cfg.cell_options),
            ),
        )
    if cfg.family == "fixed_window":
        return FixedWindowLM(
            vocab_size, cfg.context, cfg.embed_dim, cfg.hidden, direct=cfg.direct, dropout=cfg.dropout, pad_id=pad_id
        )
    raise ValueError(f"model family {cfg.family!r} has no trainable network")


def build_objective(cfg: LMModelConfig, pad_id: int):
    if cfg.family == "fixed_window":
        return FixedWindowLMObjective(cfg.context, pad_id)
    return RecurrentLMObjective()


def _pad_id(vocab: Vocabulary) -> int:
    return vocab.pad_id if vocab.pad_id is not None else 0


def stream(ids: Tensor, batch_size: int, bptt: int, k2: int | None = None) -> StreamBatches:
    return StreamBatches(batchify(ids, batch_size), bptt, k2=k2)


def fit_ngram(cfg: LMModelConfig, vocab: Vocabulary, train_ids: Tensor) -> NGramLM:
    kw: dict[str, Any] = {"k": cfg.add_k} if cfg.smoothing == "add_k" else {"discount": cfg.discount}
    model = NGramLM(cfg.order, vocab_size=len(vocab), smoothing=cfg.smoothing, unk_id=vocab.unk_id, **kw)
    return model.fit([train_ids.tolist()])


# --- training ---------------------------------------------------------------------------------------------
@dataclass
class LMTrainOutcome:
    run_dir: Path
    result: TrainResult | None  # None for an n-gram run
    valid_loss: float | None  # nats per token on the validation split (best model)
    main: bool = True  # False on the non-zero ranks of a distributed run (which write and print nothing)


def _extra_config(cfg: LMRunConfig, corpus: PreparedCorpus) -> dict[str, Any]:
    return {
        "task": "lm",
        "data": to_dict(cfg.data),
        "model": to_dict(cfg.model),
        "sample": to_dict(cfg.sample),
        "corpus": corpus.source,
        "vocab_size": len(corpus.codec.vocab),
    }


def train_lm(
    cfg: LMRunConfig,
    run_dir: str | Path | None = None,
    resume: bool = False,
    printer=print,
    progress_file: Any = None,
) -> LMTrainOutcome:
    """Train the configured model on the configured text; everything lands in ``run_dir``.

    Under ``torchrun`` every rank prepares the same corpus and vocabulary; only rank 0 writes files and prints,
    and ``run_dir`` must be given (ranks could not agree on a time-stamped name).
    """
    dist = DistributedContext.from_env()
    main_rank = dist is None or dist.rank == 0
    if dist is not None and run_dir is None and not resume:
        raise RunError("under torchrun pass --run-dir DIR so that all ranks write to the same run folder")
    if not main_rank:
        printer = _silent
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir()
    corpus = prepare_corpus(cfg.data)
    codec = corpus.codec
    if resume:
        saved = Vocabulary.load(run_dir / VOCAB_FILE)
        if saved != codec.vocab:
            raise RunError(f"{run_dir}: the data no longer gives the vocabulary this run was trained with")
    if main_rank:
        run_dir.mkdir(parents=True, exist_ok=True)
        codec.vocab.save(run_dir / VOCAB_FILE)
    pad = _pad_id(codec.vocab)
    printer(
        f"corpus: {corpus.source['kind']}, {corpus.source['tokens']:,} {cfg.data.tokenizer} tokens "
        f"({corpus.source['train_tokens']:,} train / {corpus.source['valid_tokens']:,} valid), vocabulary "
        f"{len(codec.vocab)}; run folder {run_dir}"
    )
    valid = stream(corpus.valid_ids, cfg.data.eval_batch_size, cfg.data.bptt)

    if cfg.model.family == "ngram":
        if not main_rank:
            return LMTrainOutcome(run_dir, None, None, main=False)
        model = fit_ngram(cfg.model, codec.vocab, corpus.train_ids)
        save_file({"ids": corpus.train_ids}, str(run_dir / NGRAM_FILE))
        loss = model.evaluate([corpus.valid_ids.tolist()])
        write_json(run_dir / "config.json", {"train": cfg.train.to_dict(), **_extra_config(cfg, corpus)})
        printer(f"{cfg.model.order}-gram ({cfg.model.smoothing}): valid {_describe(loss, codec)}")
        return LMTrainOutcome(run_dir, None, loss)

    torch.manual_seed(cfg.train.seed)  # the model's initialisation is part of the seeded run
    model = build_model(cfg.model, len(codec.vocab), pad)
    n_params = sum(p.numel() for p in model.parameters())
    printer(f"model: {cfg.model.family} {cfg.model.cell if cfg.model.family == 'rnn' else ''} {n_params:,} parameters")
    train = stream(corpus.train_ids, cfg.data.batch_size, cfg.data.bptt, cfg.data.k2)
    trainer = Trainer(
        model,
        build_objective(cfg.model, pad),
        cfg.train,
        run_dir=run_dir,
        callbacks=[PrintSamples(codec, cfg.sample)],
        extra_config=_extra_config(cfg, corpus),
        progress_file=progress_file,
        resume_hint=f"unrolled train lm --resume {run_dir}",
    )
    with trainer:
        result = trainer.fit(train, valid, resume=resume)
    best = result.best_valid
    if best is not None:
        printer(f"best valid {_describe(best, codec)}; run folder {run_dir}")
    return LMTrainOutcome(run_dir, result, best, main=main_rank)


def _silent(message: str) -> None:
    return None


def _describe(loss: float, codec: TextCodec) -> str:
    unit = "bpc" if codec.tokenizer_name == "char" else "bits/word"
    return f"loss {loss:.4f} nats/token, perplexity {math.exp(loss):.3f}, {loss / LN2:.4f} {unit}"


# --- loading ----------------------------------------------------------------------------------------------
@dataclass
class LoadedRun:
    run_dir: Path
    config: LMRunConfig
    codec: TextCodec
    model: Any  # nn.Module in eval mode, or NGramLM
    weights: Path | None

    @property
    def family(self) -> str:
        return self.config.model.family


def load_config(run_dir: Path) -> tuple[LMRunConfig, dict[str, Any]]:
    if not run_dir.is_dir():
        raise RunError(f"run folder {run_dir} does not exist")
    path = run_dir / "config.json"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run folder: it has no config.json")
    raw = read_json(path)
    if not isinstance(raw, dict) or raw.get("task") != "lm":
        raise RunError(f'{path}: not a language-model run (expected "task": "lm")')
    cfg = from_dict(
        LMRunConfig,
        {k: raw[k] for k in ("data", "model", "sample", "train") if k in raw},
    )
    return cfg, raw


def load_run(run_dir: str | Path, which: str = "best") -> LoadedRun:
    """Load a run's model (best validation weights by default; ``which="last"`` for the latest checkpoint)."""
    run_dir = Path(run_dir)
    cfg, raw = load_config(run_dir)
    vocab_path = run_dir / VOCAB_FILE
    if not vocab_path.is_file():
        raise RunError(f"{run_dir} has no {VOCAB_FILE}; the run is incomplete")
    codec = TextCodec(cfg.data.tokenizer, cfg.data.lowercase, Vocabulary.load(vocab_path))
    if cfg.model.family == "ngram":
        ids_path = run_dir / NGRAM_FILE
        if not ids_path.is_file():
            raise RunError(f"{run_dir} has no {NGRAM_FILE}; the n-gram run is incomplete")
        try:
            ids = load_file(str(ids_path))["ids"]
        except Exception as e:  # safetensors raises several error types for corrupt files
            raise RunError(f"{ids_path}: not a readable safetensors file ({type(e).__name__})") from None
        return LoadedRun(run_dir, cfg, codec, fit_ngram(cfg.model, codec.vocab, ids), None)
    model = build_model(cfg.model, len(codec.vocab), _pad_id(codec.vocab))
    best = run_dir / "best" / "model.safetensors"
    ckpt = find_checkpoint(run_dir)
    candidates = [best, ckpt / "model.safetensors" if ckpt else None]
    if which == "last":
        candidates.reverse()
    weights = next((p for p in candidates if p is not None and p.is_file()), None)
    if weights is None:
        raise RunError(f"{run_dir} has no weights yet (no best/ or checkpoint/ folder)")
    load_model_weights(model, weights)
    model.eval()
    return LoadedRun(run_dir, cfg, codec, model, weights)


# --- using a run --------------------------------------------------------------------------------------------
def generate_text(run: LoadedRun, sample: LMSampleConfig) -> str:
    """Prime + generated continuation, as text."""
    if run.family == "ngram":
        ids = prime_ids(run.codec, sample.prime)
        out = run.model.generate(sample.length, prime=ids, seed=sample.seed, temperature=max(sample.temperature, 1e-6))
        return run.codec.decode(ids + list(out))
    from unrolled.tasks.lm.callbacks import sample_text

    return sample_text(run.model, run.codec, sample)


@dataclass
class Evaluation:
    loss: float  # nats per token
    tokens: int
    unknown: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    @property
    def bits(self) -> float:
        return self.loss / LN2


@torch.no_grad()
def evaluate_ids(run: LoadedRun, ids: Tensor, batch_size: int = 1, bptt: int | None = None) -> float:
    """Mean nats per token of ``ids`` (the first token is context only), carrying state through the stream."""
    if run.family == "ngram":
        return run.model.evaluate([ids.tolist()])
    bptt = bptt or run.config.data.bptt
    data = stream(ids, batch_size, bptt)
    objective = build_objective(run.config.model, _pad_id(run.codec.vocab))
    total, count, state = 0.0, 0, None
    for chunk in data:
        res = objective(run.model, chunk, state)
        total += float(res.loss) * res.count
        count += res.count
        state = res.state
    return total / count


def evaluate_text(run: LoadedRun, text: str, batch_size: int = 1) -> Evaluation:
    ids = run.codec.encode(text)
    if ids.numel() < 2 * batch_size:
        raise ValueError(f"the evaluation text has {ids.numel()} tokens; expected at least {2 * batch_size}")
    unk = run.codec.vocab.unk_id
    n_unk = int((ids == unk).sum()) if unk is not None else 0
    return Evaluation(evaluate_ids(run, ids, batch_size), int(ids.numel()) - batch_size, n_unk)


def run_info(run_dir: str | Path) -> dict[str, Any]:
    """A summary of a run: config, corpus, best validation, steps, files."""
    run_dir = Path(run_dir)
    cfg, raw = load_config(run_dir)
    info: dict[str, Any] = {
        "run": str(run_dir),
        "family": cfg.model.family,
        "model": to_dict(cfg.model),
        "data": to_dict(cfg.data),
        "corpus": raw.get("corpus"),
        "vocab_size": raw.get("vocab_size"),
        "train": to_dict(cfg.train),
    }
    meta = run_dir / "best" / "meta.json"
    if meta.is_file():
        info["best"] = read_json(meta)
    ckpt = find_checkpoint(run_dir)
    if ckpt is not None and (ckpt / "progress.json").is_file():
        info["checkpoint"] = str(ckpt)
    return info


__all__ = [
    "Evaluation",
    "LMDataConfig",
    "LMModelConfig",
    "LMRunConfig",
    "LMSampleConfig",
    "LoadedRun",
    "RunError",
    "TrainConfig",
    "evaluate_text",
    "generate_text",
    "latest_run",
    "load_run",
    "new_run_dir",
    "run_info",
    "train_lm",
]
