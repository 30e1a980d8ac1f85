"""Training-time callbacks of the LM task: samples printed as the model learns."""

from __future__ import annotations

from typing import Any

from unrolled.decode.generate import generate
from unrolled.tasks.lm.config import LMSampleConfig
from unrolled.tasks.lm.corpus import TextCodec


def prime_ids(codec: TextCodec, prime: str) -> list[int]:
    """Token ids of the priming text; an empty prime starts from a newline (or the most frequent token)."""
    if prime:
        ids = codec.encode(prime).tolist()
        if ids:
            return ids
    vocab = codec.vocab
    if "\n" in vocab:
        return [vocab.token_to_id("\n")]
    return [len(vocab.specials)]  # the most frequent token: ids follow frequency after the specials


def sample_text(model: Any, codec: TextCodec, cfg: LMSampleConfig, length: int | None = None) -> str:
    """Generate from ``model`` (eval mode for the duration) and return prime + continuation as text."""
    ids = prime_ids(codec, cfg.prime)
    was_training = model.training
    model.eval()
    try:
        out = generate(
            model,
            ids,
            cfg.length if length is None else length,
            temperature=cfg.temperature,
            top_k=cfg.top_k,
            top_p=cfg.top_p,
            seed=cfg.seed,
        )
    finally:
        model.train(was_training)
    return codec.decode(ids + list(out))


class PrintSamples:
    """Print a sample every ``cfg.every`` steps (if > 0) and after each validation pass."""

    def __init__(self, codec: TextCodec, cfg: LMSampleConfig):
        self.codec, self.cfg = codec, cfg

    def _show(self, trainer: Any, where: str) -> None:
        if trainer.is_main and self.cfg.length > 0:
            text = sample_text(trainer.model, self.codec, self.cfg)
            trainer.print(f"--- sample ({where}) ---\n{text}\n---")

    def on_step_end(self, trainer: Any, step: int, metrics: dict[str, Any]) -> None:
        if self.cfg.every and step % self.cfg.every == 0:
            self._show(trainer, f"step {step}")

    def on_eval(self, trainer: Any, step: int, metrics: dict[str, Any]) -> None:
        self._show(trainer, f"step {step}, valid loss {metrics['loss']:.3f}")
