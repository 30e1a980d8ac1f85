"""Variable-length batches: validating lengths, masks, and reversing each sequence within its own length."""

from __future__ import annotations

import torch
from torch import Tensor


def resolve_lengths(lengths: Tensor | None, mask: Tensor | None, B: int, T: int, device) -> Tensor | None:
    """Check ``lengths`` (B,) or a prefix ``mask`` (B, T) and return lengths as a LongTensor, or None when every
    sequence has the full length T (so callers can take the fast path)."""
    if lengths is not None and mask is not None:
        raise ValueError("pass either lengths= or mask=, not both")
    if mask is not None:
        if mask.shape != (B, T):
            raise ValueError(f"mask must have shape (B, T) = ({B}, {T}), got {tuple(mask.shape)}")
        mask = mask.to(torch.bool)
        lengths = mask.sum(1)
        prefix = torch.arange(T, device=mask.device)[None, :] < lengths[:, None]
        if not torch.equal(prefix, mask):
            raise ValueError("mask must be True on a prefix of each sequence (padding only at the end)")
    if lengths is None:
        return None
    try:
        lengths = torch.as_tensor(lengths)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"lengths must be a (B,) tensor or sequence of integers, got {type(lengths).__name__}"
        ) from None
    if lengths.dim() != 1 or lengths.shape[0] != B:
        raise ValueError(f"lengths must have shape (B,) = ({B},), got {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > T:
        raise ValueError(f"lengths must lie in 1..T = 1..{T}, got min {lo} and max {hi}")
    lengths = lengths.to(device=device, dtype=torch.long)
    return None if lo == T else lengths


def time_mask(lengths: Tensor, T: int) -> Tensor:
    """(T, B) boolean mask, True where step t is inside sequence b."""
    return torch.arange(T, device=lengths.device)[:, None] < lengths[None, :]


def reverse_index(lengths: Tensor, T: int) -> Tensor:
    """(T, B) index that reverses each sequence within its length and leaves the padding in place."""
    t = torch.arange(T, device=lengths.device)[:, None]  # (T, 1)
    L = lengths[None, :]  # (1, B)
    return torch.where(t < L, L - 1 - t, t)  # (T, B)


def reverse_time(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse time-major ``x`` (T, B, ...) along T, each sequence within its own length."""
    if lengths is None:
        return x.flip(0)
    idx = reverse_index(lengths, x.shape[0])  # (T, B)
    idx = idx.view(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, idx)
