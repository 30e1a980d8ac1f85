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
        lengths = _mask_lengths(mask, B, T)
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


def _mask_lengths(mask, B: int, T: int) -> Tensor:
    """The lengths (B,) of a prefix mask (B, T): boolean, or numbers that are all 0 or 1."""
    try:
        mask = torch.as_tensor(mask)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"mask must be a (B, T) boolean tensor or nested sequence of booleans, got {type(mask).__name__}"
        ) from None
    if tuple(mask.shape) != (B, T):
        raise ValueError(f"mask must have shape (B, T) = ({B}, {T}), got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.is_complex() or not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask must be boolean or hold only 0 and 1, got dtype {mask.dtype} with other values")
        mask = mask != 0
    lengths = mask.sum(1)  # (B, T) -> (B,)
    prefix = torch.arange(T, device=mask.device)[None, :] < lengths[:, None]  # (B, T)
    if not torch.equal(prefix, mask):
        raise ValueError("mask must be True on a prefix of each sequence (padding only at the end)")
    return lengths


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
