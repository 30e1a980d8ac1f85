"""Padded, length-bucketed mini-batches for sentence-per-line data.

Sorting sequences of similar length into the same batch cuts the padding (and the wasted recurrent steps)
of a batch; shuffling the batch order keeps the optimisation stochastic. This is the bucketing scheme of
e.g. Sutskever et al. (2014), "Sequence to Sequence Learning with Neural Networks", sec. 3.4, and of
fairseq/OpenNMT "pools": sequences are shuffled, cut into pools of ``bucket_batches`` batches, sorted by
length inside each pool, cut into batches, and the batches shuffled.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import torch
from torch.nn.utils.rnn import pad_sequence

from unrolled.data._checks import check_index_tensor, check_int, check_rank

__all__ = ["BucketedBatches", "PaddedBatch", "pad_batch"]

_GOLDEN = 0x9E3779B97F4A7C15  # odd 64-bit constant (2**64 / golden ratio) used to mix seed and epoch


def pad_batch(sequences: Sequence[torch.Tensor], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Stack 1-D token-id tensors of different lengths into one right-padded matrix.

    .. math::
        \text{out}[b, t] = \begin{cases} s_b[t] & t < \ell_b \\ \text{pad\_id} & t \ge \ell_b \end{cases}

    Args:
        sequences: ``B >= 1`` non-empty 1-D integer tensors of one dtype.
        pad_id: value written beyond each sequence's length.

    Returns:
        ``(inputs, lengths)``: the padded ``(B, T)`` tensor, ``T = max(lengths)``, and the ``(B,)`` int64
        lengths (on the CPU, as :func:`torch.nn.utils.rnn.pack_padded_sequence` wants).

    Shape:
        - sequences: ``B`` tensors of shape :math:`(\ell_b)`
        - inputs: :math:`(B, T)`; lengths: :math:`(B)`

    Example::

        >>> inputs, lengths = pad_batch([torch.tensor([5, 6, 7]), torch.tensor([8])], pad_id=0)
        >>> inputs.tolist(), lengths.tolist()
        ([[5, 6, 7], [8, 0, 0]], [3, 1])
    """
    if isinstance(sequences, torch.Tensor) or not isinstance(sequences, Sequence):
        raise TypeError(f"expected a list of 1-D token-id tensors, got {type(sequences).__name__}")
    if len(sequences) == 0:
        raise ValueError("expected at least one sequence to pad, got an empty list")
    if isinstance(pad_id, bool) or not isinstance(pad_id, int):
        raise TypeError(f"expected pad_id to be an int, got {type(pad_id).__name__}")
    for i, s in enumerate(sequences):
        check_index_tensor(f"sequences[{i}]", s, 1)
        if s.numel() == 0:
            raise ValueError(f"expected non-empty sequences, got an empty sequences[{i}]")
        if s.dtype != sequences[0].dtype:
            raise TypeError(f"expected sequences of one dtype, got {sequences[0].dtype} and {s.dtype} at {i}")
    lengths = torch.tensor([s.numel() for s in sequences], dtype=torch.long)
    return pad_sequence(list(sequences), batch_first=True, padding_value=pad_id), lengths


@dataclass(frozen=True)
class PaddedBatch:
    """One batch of :class:`BucketedBatches`, rows sorted by length, longest first.

    Attributes:
        inputs: ``(B, T)`` token ids, padded with ``pad_id``.
        lengths: ``(B,)`` true lengths (CPU, non-increasing: ready for ``pack_padded_sequence`` with
            ``enforce_sorted=True``).
        indices: ``(B,)`` positions of the rows in the dataset (to put predictions back in order).
        targets: ``None``; or ``(B,)`` labels when the targets were one int per sequence; or ``(B, T')``
            token ids padded with ``target_pad_id`` when the targets were sequences.
        target_lengths: ``(B,)`` lengths of sequence targets, else ``None``.
    """

    inputs: torch.Tensor
    lengths: torch.Tensor
    indices: torch.Tensor
    targets: torch.Tensor | None = None
    target_lengths: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> PaddedBatch:
        """Move ``inputs`` and ``targets`` to ``device``; ``lengths``, ``indices`` stay on the CPU."""
        targets = None if self.targets is None else self.targets.to(device)
        return replace(self, inputs=self.inputs.to(device), targets=targets)


class BucketedBatches:
    r"""Length-bucketed, seeded, shardable mini-batches of variable-length sequences.

    The order of epoch ``e`` is a pure function of ``(seed, e)`` (a :class:`torch.Generator` seeded with
    ``seed * 0x9E3779B97F4A7C15 + e`` modulo :math:`2^{63}`), so a run resumed with :meth:`set_epoch` and
    :meth:`iter_from` sees exactly the batches it would have seen:

    1. shuffle the sequence indices (if ``shuffle``);
    2. if ``bucket``: cut them into pools of ``bucket_batches * batch_size`` and stable-sort each pool by
       length, longest first;
    3. cut into batches of ``batch_size`` (the last one may be smaller; dropped if ``drop_last``);
    4. shuffle the batch order (if ``shuffle``) and stable-sort the rows of every batch by length, longest
       first.

    Every sequence appears exactly once per epoch (except those of a dropped last batch).

    Args:
        sequences: the dataset, 1-D integer tensors (or lists of ints), each non-empty.
        batch_size: rows per (global) batch ``B``.
        pad_id: padding value for the inputs.
        targets: optional, one per sequence: all ints (class labels) or all 1-D integer tensors / lists.
        target_pad_id: padding value for sequence targets. Default: ``-100`` (the ``ignore_index`` of
            :func:`torch.nn.functional.cross_entropy`).
        shuffle: shuffle sequences and batch order. Default: ``True``.
        seed: base seed. Default: ``0``.
        bucket: group sequences of similar length. Default: ``True``.
        bucket_batches: batches per sorting pool. Default: ``50``.
        drop_last: drop a final batch smaller than ``batch_size``. Default: ``False``.

    Shape:
        - batch.inputs: :math:`(B, T)`, ``T`` the longest length in the batch
        - batch.lengths, batch.indices: :math:`(B)`

    Example::

        >>> seqs = [torch.tensor([1, 2, 3]), torch.tensor([4]), torch.tensor([5, 6])]
        >>> batches = BucketedBatches(seqs, batch_size=2, pad_id=0, shuffle=False)
        >>> [b.inputs.tolist() for b in batches]
        [[[1, 2, 3], [5, 6, 0]], [[4]]]
    """

    def __init__(
        self,
        sequences: Sequence[torch.Tensor | Sequence[int]],
        batch_size: int,
        *,
        pad_id: int,
        targets: Sequence[int | torch.Tensor | Sequence[int]] | None = None,
        target_pad_id: int = -100,
        shuffle: bool = True,
        seed: int = 0,
        bucket: bool = True,
        bucket_batches: int = 50,
        drop_last: bool = False,
    ) -> None:
        if isinstance(sequences, (str, torch.Tensor)) or not isinstance(sequences, Sequence):
            raise TypeError(f"expected a list of token-id sequences, got {type(sequences).__name__}")
        if len(sequences) == 0:
            raise ValueError("expected at least one sequence, got an empty dataset")
        self.sequences = [_as_ids(f"sequences[{i}]", s) for i, s in enumerate(sequences)]
        self.lengths = torch.tensor([s.numel() for s in self.sequences], dtype=torch.long)
        self.batch_size = check_int("batch_size", batch_size, 1)
        for name, value in (("pad_id", pad_id), ("target_pad_id", target_pad_id), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"expected {name} to be an int, got {type(value).__name__}")
        for name, value in (("shuffle", shuffle), ("bucket", bucket), ("drop_last", drop_last)):
            if not isinstance(value, bool):
                raise TypeError(f"expected {name} to be a bool, got {type(value).__name__}")
        self.pad_id = pad_id
        self.target_pad_id = target_pad_id
        self.shuffle = shuffle
        self.seed = seed
        self.bucket = bucket
        self.bucket_batches = check_int("bucket_batches", bucket_batches, 1)
        self.drop_last = drop_last
        self.labels, self.target_sequences = _prepare_targets(targets, len(self.sequences))
        self.epoch = 0
        self.rank = 0
        self.world_size = 1

    def set_epoch(self, epoch: int) -> None:
        """Select the order of epoch ``epoch`` (call before iterating, as with ``DistributedSampler``)."""
        self.epoch = check_int("epoch", epoch, 0)

    def shard(self, rank: int, world_size: int) -> BucketedBatches:
        """The share of ``rank`` for distributed data parallel training.

        Every global batch (same on every rank given the same seed and epoch) is split row-wise: rank ``r``
        takes rows ``r, r + world_size, ...``. Strided rows (rather than contiguous blocks) give every rank
        sequences of about the same lengths, so no rank waits on the others. ``batch_size`` must be divisible
        by ``world_size``; a final partial batch with fewer than ``world_size`` rows is dropped so that every
        rank runs the same number of steps.
        """
        r, world = check_rank(rank, world_size)
        if self.batch_size % world:
            raise ValueError(f"expected batch_size={self.batch_size} to be divisible by world_size={world}")
        out = copy.copy(self)  # shares the (read-only) sequences
        out.rank, out.world_size = r, world
        return out

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed((self.seed * _GOLDEN + self.epoch) % 2**63)

    def _longest_first(self, idx: torch.Tensor) -> torch.Tensor:
        return idx[torch.sort(self.lengths[idx], descending=True, stable=True).indices]

    def batch_indices(self) -> list[torch.Tensor]:
        """Dataset indices of every batch of the current epoch, for this shard, in iteration order."""
        n = len(self.sequences)
        g = self._generator()
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        if self.bucket:
            pool = self.bucket_batches * self.batch_size
            order = torch.cat([self._longest_first(p) for p in order.split(pool)])
        batches = list(order.split(self.batch_size))
        if self.drop_last and batches[-1].numel() < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[j] for j in torch.randperm(len(batches), generator=g).tolist()]
        batches = [self._longest_first(b) for b in batches]
        if self.world_size > 1:
            batches = [b[self.rank :: self.world_size] for b in batches if b.numel() >= self.world_size]
        return batches

    def __len__(self) -> int:
        n, bs = len(self.sequences), self.batch_size
        full, rest = divmod(n, bs)
        keep_rest = rest > 0 and not self.drop_last and rest >= self.world_size
        return full + int(keep_rest)

    def _collate(self, idx: torch.Tensor) -> PaddedBatch:
        rows = idx.tolist()
        inputs, lengths = pad_batch([self.sequences[i] for i in rows], self.pad_id)
        targets = target_lengths = None
        if self.labels is not None:
            targets = self.labels[idx]
        elif self.target_sequences is not None:
            targets, target_lengths = pad_batch([self.target_sequences[i] for i in rows], self.target_pad_id)
        return PaddedBatch(inputs, lengths, idx, targets, target_lengths)

    def iter_from(self, n: int) -> Iterator[PaddedBatch]:
        """Iterate the current epoch from batch ``n`` (``0 <= n <= len(self)``), e.g. to resume mid-epoch."""
        check_int("n", n, 0)
        if n > len(self):
            raise ValueError(f"expected 0 <= n <= {len(self)} (the number of batches), got {n}")
        for idx in self.batch_indices()[n:]:
            yield self._collate(idx)

    def __iter__(self) -> Iterator[PaddedBatch]:
        return self.iter_from(0)

    def __repr__(self) -> str:
        return (
            f"BucketedBatches(sequences={len(self.sequences)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, bucket={self.bucket}, epoch={self.epoch}, "
            f"rank={self.rank}/{self.world_size}, batches={len(self)})"
        )


def _as_ids(name: str, value: object) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = check_index_tensor(name, value, 1)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise TypeError(f"expected {name} to be a 1-D tensor or a list of int token ids")
        t = torch.tensor(list(value), dtype=torch.long)
    else:
        kind = type(value).__name__
        raise TypeError(f"expected {name} to be a 1-D tensor or a list of int token ids, got {kind}")
    if t.numel() == 0:
        raise ValueError(f"expected non-empty sequences, got an empty {name}")
    return t


def _prepare_targets(
    targets: Sequence[int | torch.Tensor | Sequence[int]] | None, n: int
) -> tuple[torch.Tensor | None, list[torch.Tensor] | None]:
    """Resolve targets once into (labels (n,), None) or (None, list of 1-D tensors) or (None, None)."""
    if targets is None:
        return None, None
    if isinstance(targets, torch.Tensor):
        if targets.dim() != 1 or targets.dtype.is_floating_point:
            raise TypeError(f"expected a 1-D integer tensor of labels, got shape {tuple(targets.shape)}")
        targets = targets.tolist()
    if isinstance(targets, str) or not isinstance(targets, Sequence):
        raise TypeError(f"expected targets to be a list (one per sequence), got {type(targets).__name__}")
    if len(targets) != n:
        raise ValueError(f"expected one target per sequence ({n}), got {len(targets)}")

    def is_label(v: object) -> bool:
        if isinstance(v, torch.Tensor):
            return v.dim() == 0 and not v.dtype.is_floating_point
        return isinstance(v, int) and not isinstance(v, bool)

    if all(is_label(v) for v in targets):
        return torch.tensor([int(v) for v in targets], dtype=torch.long), None
    if any(is_label(v) for v in targets):
        raise TypeError("expected targets to be all int labels or all token-id sequences, got a mix")
    return None, [_as_ids(f"targets[{i}]", v) for i, v in enumerate(targets)]
