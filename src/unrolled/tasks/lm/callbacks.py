"""Generation for the LM task (one path for every family) and the training-time callback that prints samples."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from unrolled.decode.generate import generate
from unrolled.tasks.lm.codec import TextCodec
from unrolled.tasks.lm.config import LMSampleConfig


def prime_ids(codec: TextCodec, prime: str) -> list[int]:
    """Token ids of the priming text; an empty prime starts from the start of a line (see
    :meth:`TextCodec.start_ids`)."""
    return codec.start_ids(prime)


class NGramSteps:
    """:mod:`unrolled.decode`'s step protocol for an :class:`~unrolled.models.NGramLM`: the state is the context
    (a list of ids) and the logits are the log-probabilities of the smoothed next-token distribution, so the n-gram
    model samples with the same temperature / top-k / top-p / masking code as the neural models."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def _logits(self, context: list[int]) -> Tensor:
        p = self.model.prob_distribution(context[-(self.model.order - 1) :] if self.model.order > 1 else [])
        return torch.from_numpy(np.log(np.maximum(p, 1e-300))).float().unsqueeze(0)  # (1, V)

    def prime(self, tokens: Tensor, state: Any) -> tuple[Tensor, list[int]]:
        context = list(state or []) + tokens[0].tolist()
        return self._logits(context), context

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, list[int]]:
        context = list(state or []) + [int(tokens[0])]
        return self._logits(context), context


def sample_ids(model: Any, codec: TextCodec, cfg: LMSampleConfig, length: int | None = None) -> list[int]:
    """New token ids after ``cfg.prime`` (special tokens masked; with ``cfg.stop_at_eos`` the piece ends at the
    codec's end token, which is left out). ``model``: an ``nn.Module`` (eval mode for the duration) or an object
    with the decode step protocol."""
    ids = codec.start_ids(cfg.prime)
    stop = codec.end_id if cfg.stop_at_eos else None
    module = model if isinstance(model, nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    try:
        out = generate(
            model,
            ids,
            cfg.length if length is None else length,
            temperature=cfg.temperature,
            top_k=cfg.top_k,
            top_p=cfg.top_p,
            seed=cfg.seed,
            eos_id=stop,
            suppress_ids=[i for i in codec.suppress_ids if i != stop],
        )
    finally:
        if module is not None:
            module.train(was_training)
    out = list(out)
    if stop is not None and out and out[-1] == stop:
        out.pop()
    return out


def sample_text(model: Any, codec: TextCodec, cfg: LMSampleConfig, length: int | None = None) -> str:
    """Generate from ``model`` and return the prime (as given) followed by the continuation, as text."""
    return codec.continuation(cfg.prime, sample_ids(model, codec, cfg, length))


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
