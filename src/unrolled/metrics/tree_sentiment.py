"""Sentiment accuracy over tree nodes: fine-grained (every class) and binary (Socher et al. 2013, §5.1).

Binary accuracy follows the Stanford Sentiment Treebank convention: nodes whose gold label is neutral (the
middle class of an odd number of classes, 2 of 0..4) are left out; the rest are negative (below the middle) or
positive (above). A prediction from C-class scores is positive when the probability mass of the positive classes
exceeds that of the negative ones (the neutral class ignored). Plain functions of tensors; counts, so that
batches add up exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["binary_counts", "fine_grained_counts", "sentiment_accuracies", "split_classes"]


def _check(logits: Tensor, gold: Tensor) -> None:
    if logits.dim() != 2 or gold.dim() != 1 or logits.shape[0] != gold.shape[0]:
        raise ValueError(f"expected logits (n, C) and gold (n,), got {tuple(logits.shape)} and {tuple(gold.shape)}")


def split_classes(num_classes: int) -> tuple[list[int], list[int]]:
    """The negative and positive classes of ``num_classes`` ordered sentiment classes (the middle one of an odd
    number is neutral): 5 -> ([0, 1], [3, 4]); 2 -> ([0], [1])."""
    if num_classes < 2:
        raise ValueError(f"expected at least 2 sentiment classes, got {num_classes}")
    half = num_classes // 2
    return list(range(half)), list(range(num_classes - half, num_classes))


def fine_grained_counts(logits: Tensor, gold: Tensor) -> tuple[int, int]:
    """(correct, total): argmax equals the gold class."""
    _check(logits, gold)
    return int((logits.argmax(dim=-1) == gold).sum()), int(gold.numel())


def binary_counts(logits: Tensor, gold: Tensor) -> tuple[int, int]:
    """(correct, total) over the non-neutral gold nodes, negative vs positive (see the module docstring)."""
    _check(logits, gold)
    neg, pos = split_classes(logits.shape[-1])
    keep = torch.isin(gold, torch.tensor(neg + pos, device=gold.device))  # (n,)
    p = logits[keep].float().softmax(dim=-1)  # (m, C)
    pred_pos = p[:, pos].sum(-1) > p[:, neg].sum(-1)  # (m,)
    gold_pos = torch.isin(gold[keep], torch.tensor(pos, device=gold.device))
    return int((pred_pos == gold_pos).sum()), int(keep.sum())


def sentiment_accuracies(logits: Tensor, gold: Tensor, roots: Tensor) -> dict[str, float]:
    """Fine-grained and binary accuracy on the roots and on all nodes (NaN where nothing was counted)."""
    out = {}
    for where, idx in (("root", roots), ("all", slice(None))):
        for name, fn in (("fine", fine_grained_counts), ("binary", binary_counts)):
            c, t = fn(logits[idx], gold[idx])
            out[f"{where}_{name}"] = c / t if t else float("nan")
    return out
