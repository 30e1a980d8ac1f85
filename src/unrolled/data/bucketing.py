r"""Length-bucketing batch sampler: batches of dataset indices whose items have similar lengths.

A recurrent network runs ``T = max length`` steps on every row of a padded batch, so the steps spent on padding
are wasted. Sorting items of similar length into the same batch cuts that waste; drawing the items from shuffled
pools (rather than sorting the whole dataset) keeps the batches varied from epoch to epoch. This is the
"pool" scheme of fairseq / OpenNMT and of Sutskever et al. (2014), sec. 3.4:

1. shuffle the indices (if ``shuffle``);
2. cut them into pools of ``pool_batches * batch_size`` and stable-sort each pool by length, longest first;
3. cut each pool into batches of ``batch_size`` (the last of the epoch may be smaller; dropped if ``drop_last``);
4. shuffle the batch order (if ``shuffle``); the rows of every batch are longest first (what
   :func:`torch.nn.utils.rnn.pack_padded_sequence` wants with ``enforce_sorted=True``).

Unlike :class:`unrolled.data.BucketedBatches` (token-id tensors in, padded batches out) the sampler only needs
the lengths: it yields lists of indices and leaves collation to the caller, so it serves any dataset (words with
their characters and tags, numeric feature sequences, ...), e.g. as ``batch_sampler=`` of a
:class:`torch.utils.data.DataLoader`.

The padding ratio of an epoch is

.. math::
    \rho = 1 - \frac{\sum_b \sum_{i \in b} \ell_i}{\sum_b |b| \max_{i \in b} \ell_i}

the fraction of the padded ``(B, T)`` slots that hold padding (0 when every batch has a single length).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import torch

from unrolled.data._checks import check_int, check_rank

__all__ = ["LengthBucketSampler", "padding_ratio"]

_GOLDEN = 0x9E3779B97F4A7C15  # odd 64-bit constant mixing seed and epoch, as in BucketedBatches


def _as_lengths(lengths: object) -> torch.Tensor:
    if isinstance(lengths, torch.Tensor):
        if lengths.dim() != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise TypeError(f"expected lengths to be a 1-D integer tensor, got {lengths.dtype} {tuple(lengths.shape)}")
        out = lengths.detach().to("cpu", torch.long)
    elif isinstance(lengths, Sequence) and not isinstance(lengths, str):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in lengths):
            raise TypeError("expected lengths to be a list of ints")
        out = torch.tensor(list(lengths), dtype=torch.long)
    else:
        raise TypeError(f"expected lengths to be a list of ints or a 1-D tensor, got {type(lengths).__name__}")
    if out.numel() == 0:
        raise ValueError("expected at least one length, got an empty dataset")
    if bool((out < 1).any()):
        i = int(torch.nonzero(out < 1)[0])
        raise ValueError(f"expected every length >= 1, got {int(out[i])} at index {i}")
    return out


def padding_ratio(lengths: Sequence[int] | torch.Tensor, batches: Sequence[Sequence[int]]) -> float:
    r"""Fraction of padded slots over ``batches`` (lists of indices into ``lengths``): :math:`\rho` above.

    Example::

        >>> padding_ratio([3, 1, 2, 2], [[0, 1], [2, 3]])  # (3+3) + (2+2) slots, 8 of them used
        0.2
    """
    lens = _as_lengths(lengths)
    used = total = 0
    for b in batches:
        if len(b) == 0:
            continue
        lb = lens[torch.as_tensor(list(b), dtype=torch.long)]
        used += int(lb.sum())
        total += int(lb.max()) * lb.numel()
    if total == 0:
        raise ValueError("expected at least one non-empty batch")
    return (total - used) / total


class LengthBucketSampler:
    r"""Seeded batch sampler that groups items of similar length (see the module docstring for the scheme).

    The order of epoch ``e`` is a pure function of ``(seed, e)``: a :class:`torch.Generator` seeded with
    ``(seed * 0x9E3779B97F4A7C15 + e) mod 2^63``. Every index appears exactly once per epoch (except those of
    a dropped last batch).

    Args:
        lengths: the length :math:`\ell_i \ge 1` of every item of the dataset (list of ints or 1-D tensor).
        batch_size: items per (global) batch ``B``.
        shuffle: shuffle the items and the batch order; without it the pools are consecutive and the batches in
            pool order. Default: ``True``.
        seed: base seed. Default: ``0``.
        pool_batches: batches per sorting pool; ``1`` sorts within each batch only (no bucketing). Default:
            ``50``.
        drop_last: drop a last batch smaller than ``batch_size``. Default: ``False``.

    Shape:
        - lengths: :math:`(N)`, ``N`` items
        - each yielded batch: a list of at most ``B`` indices in ``[0, N)``, longest item first

    Example::

        >>> lengths = [4, 1, 4, 1]
        >>> sampler = LengthBucketSampler(lengths, batch_size=2, shuffle=False)
        >>> list(sampler)  # the two 4s together, the two 1s together: no padding
        [[0, 2], [1, 3]]
        >>> sampler.padding_ratio()
        0.0
        >>> LengthBucketSampler(lengths, batch_size=2, shuffle=False, pool_batches=1).padding_ratio()  # 6 of 16
        0.375
        >>> loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)  # doctest: +SKIP
    """

    def __init__(
        self,
        lengths: Sequence[int] | torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 50,
        drop_last: bool = False,
    ) -> None:
        self.lengths = _as_lengths(lengths)
        self.batch_size = check_int("batch_size", batch_size, 1)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"expected seed to be an int, got {type(seed).__name__}")
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, bool):
                raise TypeError(f"expected {name} to be a bool, got {type(value).__name__}")
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = check_int("pool_batches", pool_batches, 1)
        self.drop_last = drop_last
        self.epoch = 0
        self.rank = 0
        self.world_size = 1

    def set_epoch(self, epoch: int) -> None:
        """Select the order of epoch ``epoch`` (call before iterating, as with ``DistributedSampler``)."""
        self.epoch = check_int("epoch", epoch, 0)

    def shard(self, rank: int, world_size: int) -> LengthBucketSampler:
        """This rank's share of every global batch: rows ``rank, rank + world_size, ...`` (strided, so every
        rank gets items of about the same lengths); a last batch with fewer than ``world_size`` rows is dropped so
        that every rank runs the same number of steps."""
        r, world = check_rank(rank, world_size)
        if self.batch_size % world:
            raise ValueError(f"expected batch_size={self.batch_size} to be divisible by world_size={world}")
        out = copy.copy(self)
        out.rank, out.world_size = r, world
        return out

    def _longest_first(self, idx: torch.Tensor) -> torch.Tensor:
        return idx[torch.sort(self.lengths[idx], descending=True, stable=True).indices]

    def batches(self) -> list[list[int]]:
        """The batches of the current epoch (for this shard), in iteration order."""
        n = self.lengths.numel()
        g = torch.Generator().manual_seed((self.seed * _GOLDEN + self.epoch) % 2**63)
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        pool = self.pool_batches * self.batch_size
        order = torch.cat([self._longest_first(p) for p in order.split(pool)])  # (N,)
        out = list(order.split(self.batch_size))
        if self.drop_last and out[-1].numel() < self.batch_size:
            out.pop()
        if self.shuffle:
            out = [out[j] for j in torch.randperm(len(out), generator=g).tolist()]
        out = [self._longest_first(b) for b in out]
        if self.world_size > 1:
            out = [b[self.rank :: self.world_size] for b in out if b.numel() >= self.world_size]
        return [b.tolist() for b in out]

    def iter_from(self, n: int) -> Iterator[list[int]]:
        """Iterate the current epoch from batch ``n`` (``0 <= n <= len(self)``), e.g. to resume mid-epoch."""
        check_int("n", n, 0)
        if n > len(self):
            raise ValueError(f"expected 0 <= n <= {len(self)} (the number of batches), got {n}")
        return iter(self.batches()[n:])

    def __iter__(self) -> Iterator[list[int]]:
        return self.iter_from(0)

    def __len__(self) -> int:
        full, rest = divmod(self.lengths.numel(), self.batch_size)
        return full + int(rest > 0 and not self.drop_last and rest >= self.world_size)

    def padding_ratio(self) -> float:
        """Fraction of padded slots in the current epoch's batches (see :func:`padding_ratio`)."""
        return padding_ratio(self.lengths, self.batches())

    def __repr__(self) -> str:
        return (
            f"LengthBucketSampler(items={self.lengths.numel()}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, pool_batches={self.pool_batches}, epoch={self.epoch}, batches={len(self)})"
        )
