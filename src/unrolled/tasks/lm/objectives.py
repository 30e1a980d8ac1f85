"""Losses of the language-modeling task over contiguous-stream chunks (one per model family that trains)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.data.stream import StreamChunk
from unrolled.train.objective import StepResult


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _cross_entropy(logits: Tensor, targets: Tensor, start: int) -> tuple[Tensor, int]:
    logits, targets = logits[:, start:], targets[:, start:]  # only the positions this chunk scores
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))  # nats per token
    return loss, targets.numel()


def _same_value(loss: Tensor, extra: Tensor) -> Tensor:
    """``loss`` whose value is unchanged but whose gradient also has ``extra``'s: the reported (and logged) loss stays
    the cross-entropy while the optimizer sees the regularised objective."""
    return loss + (extra - extra.detach())


class RecurrentLMObjective:
    r"""Next-token cross-entropy of a recurrent LM on a :class:`~unrolled.data.StreamChunk`, carrying the state.

    With k2 > k1 a chunk re-reads up to k2 - k1 context steps; the state to carry into the next chunk is the one
    after the chunk's first ``save_at`` positions, so the model runs in two pieces split there.

    The loss is the mean over the chunk's B x T tokens (nats per token); Zaremba et al. 2014 sum over the T unrolled
    steps (a mean over the batch), so their learning rate :math:`\eta` and clip norm :math:`c` are
    :math:`T\eta` and :math:`c / T` here (see ``configs/lm_word_zaremba_*.yaml``).

    Training adds, to the gradient only (the reported loss stays the cross-entropy; Merity et al. 2018, sec. 4.6):

    .. math::
        \alpha\, \overline{(m \odot h_t)^2} \;+\; \beta\, \overline{(h_t - h_{t-1})^2}

    with :math:`h` the last layer's output (``model.activations``), :math:`m \odot h` after its dropout (AR), and
    a chunk of ``scale`` s (variable-length BPTT) has its gradient multiplied by s.

    Args:
        ar: :math:`\alpha`. tar: :math:`\beta`.
        score_targets: the model scores the targets itself (``model(x, state, targets=y)`` -> log-probabilities
            (B, t)) instead of returning (B, t, V) scores: the adaptive softmax's fast path (Grave et al. 2017),
            exact log-probabilities of the targets without the full distribution. Default off: the full softmax's
            logits and ``F.cross_entropy``, as before.
    """

    def __init__(self, ar: float = 0.0, tar: float = 0.0, score_targets: bool = False) -> None:
        self.ar, self.tar = float(ar), float(tar)
        self._score = _target_cross_entropy if score_targets else _logits_cross_entropy  # resolved once

    def __call__(self, model: nn.Module, batch: StreamChunk, state: Any) -> StepResult:
        result = self._cross_entropy(model, batch, state)
        if not torch.is_grad_enabled() or not model.training:
            return result
        loss = result.loss
        inner = getattr(model, "module", model)  # DistributedDataParallel wraps the model
        acts = getattr(inner, "activations", None)
        if (self.ar or self.tar) and acts is not None:
            raw, dropped = acts  # (B, t, O) each
            extra = loss.new_zeros(())
            if self.ar:
                extra = extra + self.ar * dropped.pow(2).mean()
            if self.tar and raw.shape[1] > 1:
                extra = extra + self.tar * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
            loss = _same_value(loss, extra)
        if acts is not None:
            inner.activations = None  # do not hold the graph until the next batch
        scale = getattr(batch, "scale", 1.0)
        if scale != 1.0:
            loss = _same_value(loss, (scale - 1.0) * loss)
        return StepResult(loss=loss, count=result.count, state=result.state)

    def _cross_entropy(self, model: nn.Module, batch: StreamChunk, state: Any) -> StepResult:
        dev = _device(model)
        x, y = batch.inputs.to(dev), batch.targets.to(dev)  # (B, t) each
        if not batch.carry:
            state = None
        loss, count, carried = self._score(model, x, y, state, batch.save_at, batch.loss_start)
        return StepResult(loss=loss, count=count, state=carried)


def _run_split(model: nn.Module, x: Tensor, state: Any, save_at: int, targets: Tensor | None = None):
    """The model over x (B, t), cut at ``save_at`` when it is inside the chunk so that the state to carry is the one
    after ``save_at`` positions: (B, t, V) scores, or with ``targets`` (B, t) the targets' log-probabilities (B, t)
    that the model computes itself; and that state."""

    def run(lo: int, hi: int, s: Any):
        extra = {} if targets is None else {"targets": targets[:, lo:hi]}
        return model(x[:, lo:hi], s, **extra)  # (B, hi - lo, V) or (B, hi - lo)

    t = x.shape[1]
    if save_at < t:
        head, mid = run(0, save_at, state)
        tail, _ = run(save_at, t, mid)
        return torch.cat([head, tail], 1), mid  # (B, t, ...)
    return run(0, t, state)


def _logits_cross_entropy(
    model: nn.Module, x: Tensor, y: Tensor, state: Any, save_at: int, start: int
) -> tuple[Tensor, int, Any]:
    """The model returns (B, t, V) scores; the state to carry is the one after ``save_at`` positions."""
    logits, carried = _run_split(model, x, state, save_at)  # (B, t, V)
    loss, count = _cross_entropy(logits, y, start)
    return loss, count, carried


def _target_cross_entropy(
    model: nn.Module, x: Tensor, y: Tensor, state: Any, save_at: int, start: int
) -> tuple[Tensor, int, Any]:
    """The model returns the targets' log-probabilities (B, t) (adaptive softmax: no (B, t, V) tensor)."""
    logp, carried = _run_split(model, x, state, save_at, targets=y)  # (B, t)
    logp = logp[:, start:]  # only the positions this chunk scores
    return -logp.mean(), logp.numel(), carried


class FixedWindowLMObjective:
    """Cross-entropy of the fixed-window LM (Bengio et al. 2003) on stream chunks. Its "state" is the last n - 1
    tokens of the previous chunk, so windows that straddle chunk boundaries see the true context; the stream's
    very start is padded with ``pad_id``."""

    def __init__(self, context: int, pad_id: int):
        self.context, self.pad_id = context, pad_id

    def __call__(self, model: nn.Module, batch: StreamChunk, state: Any) -> StepResult:
        dev = _device(model)
        x, y = batch.inputs.to(dev), batch.targets.to(dev)  # (B, t)
        B, t = x.shape
        n1 = self.context
        if state is None or not batch.carry:
            state = torch.full((B, n1), self.pad_id, dtype=x.dtype, device=dev)  # (B, n-1)
        ctx = torch.cat([state, x], 1)  # (B, n-1 + t)
        windows = ctx.unfold(1, n1, 1)[:, 1 : t + 1]  # (B, t, n-1): the n-1 tokens ending at x[:, j]
        logits = model(windows.reshape(B * t, n1)).view(B, t, -1)  # (B, t, V)
        loss, count = _cross_entropy(logits, y, batch.loss_start)
        carried = ctx[:, batch.save_at : batch.save_at + n1]  # the n-1 tokens before position save_at
        return StepResult(loss=loss, count=count, state=carried)
