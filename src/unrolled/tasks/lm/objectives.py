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


class RecurrentLMObjective:
    """Next-token cross-entropy of a recurrent LM on a :class:`~unrolled.data.StreamChunk`, carrying the state.

    With k2 > k1 a chunk re-reads up to k2 - k1 context steps; the state to carry into the next chunk is the one
    after the chunk's first ``save_at`` positions, so the model runs in two pieces split there.
    """

    def __call__(self, model: nn.Module, batch: StreamChunk, state: Any) -> StepResult:
        dev = _device(model)
        x, y = batch.inputs.to(dev), batch.targets.to(dev)  # (B, t) each
        if not batch.carry:
            state = None
        if batch.save_at < x.shape[1]:
            head, mid = model(x[:, : batch.save_at], state)  # (B, save_at, V)
            tail, _ = model(x[:, batch.save_at :], mid)  # (B, t - save_at, V)
            logits, carried = torch.cat([head, tail], 1), mid  # (B, t, V)
        else:
            logits, carried = model(x, state)  # (B, t, V)
        loss, count = _cross_entropy(logits, y, batch.loss_start)
        return StepResult(loss=loss, count=count, state=carried)


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
