"""Contiguous-stream batching for language models, with truncated BPTT windows.

The layout is the one of the PyTorch ``word_language_model`` example (and of Zaremba et al., 2014,
"Recurrent Neural Network Regularization"), but batch-first: the token stream is cut into ``B`` equal
contiguous rows, row ``b`` holding tokens ``[b*N, (b+1)*N)``, and the model walks all rows in parallel,
carrying its hidden state from one chunk to the next, so that row ``b`` is read as one long sequence.

Truncated BPTT follows Williams & Peng (1990), "An efficient gradient-based algorithm for on-line training of
recurrent network trajectories", in the BPTT(k2, k1) notation of Sutskever (2013, PhD thesis, sec. 2.8.6):
every ``k1`` new time steps the network takes an update, back-propagating through the last ``k2 >= k1``
steps. With ``k1 == k2`` (the usual case) the chunks are disjoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from unrolled.data._checks import check_index_tensor, check_int, check_rank

__all__ = ["StreamBatches", "StreamChunk", "batchify"]


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    r"""Cut a 1-D token stream into ``batch_size`` equal contiguous rows, dropping the remainder.

    .. math::
        N = \lfloor L / B \rfloor, \qquad \text{out}[b, n] = \text{ids}[b N + n]

    The last ``L - B N`` tokens are dropped.

    Args:
        ids: 1-D integer tensor of ``L`` token ids.
        batch_size: number of rows ``B``.

    Returns:
        A ``(B, N)`` view of ``ids`` (same dtype and device).

    Raises:
        ValueError: if ``L < 2 B`` (every row needs an input and a target token).

    Shape:
        - ids: :math:`(L)`
        - output: :math:`(B, N)` with :math:`N = \lfloor L / B \rfloor`

    Example::

        >>> batchify(torch.arange(10), 3)
        tensor([[0, 1, 2],
                [3, 4, 5],
                [6, 7, 8]])
    """
    check_index_tensor("ids", ids, 1)
    b = check_int("batch_size", batch_size, 1)
    if ids.numel() < 2 * b:
        raise ValueError(f"expected at least 2*batch_size={2 * b} tokens to batchify into {b} rows, got {ids.numel()}")
    n = ids.numel() // b
    return ids[: b * n].view(b, n)


@dataclass(frozen=True)
class StreamChunk:
    r"""One truncated-BPTT window of a :class:`StreamBatches`.

    Attributes:
        inputs: ``(B, t)`` token ids at stream steps ``[start, start + t)``.
        targets: ``(B, t)`` the next tokens, i.e. stream steps ``[start + 1, start + t + 1)``.
        loss_start: leading positions that are context only: the loss is taken on
            ``targets[:, loss_start:]`` and never on the first ``loss_start`` positions (which were already
            scored by the previous chunk). ``0`` whenever ``k2 == k1``.
        carry: ``True`` if the run must start from the state carried in from the previous chunk (the one saved
            after its first ``save_at`` positions); ``False`` if it must start from the initial state (the
            window starts at stream step 0).
        start: stream step of ``inputs[:, 0]``.
        save_at: after the first ``save_at`` positions of this chunk (``1 <= save_at <= t``), detach and keep
            the hidden state: it is the state the next chunk starts from. Equals ``t`` (the final state)
            whenever ``k2 == k1``, and for the last chunk or when the next chunk does not carry.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    loss_start: int
    carry: bool
    start: int
    save_at: int


class StreamBatches:
    r"""Iterate a batchified stream in truncated-BPTT windows.

    Let ``N`` be the row length, so ``P = N - 1`` steps have a target. With ``k1 = bptt`` and
    ``c = k2 - k1`` extra context steps, chunk ``i`` (``0 <= i < ceil(P / k1)``) covers the input steps

    .. math::
        [s_i, e_i), \quad s_i = \max(0,\ i k_1 - c), \quad e_i = \min((i + 1) k_1,\ P)

    with ``loss_start = i k1 - s_i``: the loss is taken on steps ``[i k1, e_i)``, so every target of the
    stream is scored exactly once per epoch, and gradients flow back through up to ``k2`` steps.

    State carrying. The consumer keeps one hidden state, ``saved`` (initially the model's initial state):

    .. code-block:: python

        for chunk in batches:
            h = saved if chunk.carry else initial_state
            out_a, h_mid = rnn(chunk.inputs[:, : chunk.save_at], h)
            saved = detach(h_mid)
            if chunk.save_at < chunk.inputs.size(1):  # only when k2 > k1
                out_b, _ = rnn(chunk.inputs[:, chunk.save_at :], h_mid)
                out_a = torch.cat([out_a, out_b], dim=1)
            logits = head(out_a)[:, chunk.loss_start :]
            loss = ce(logits, chunk.targets[:, chunk.loss_start :])

    ``save_at = s_{i+1} - s_i`` is the offset where the next window starts, so ``saved`` is exactly the
    state at step ``s_{i+1}`` (when the next window starts at step 0 it does not carry, and ``save_at = t``).
    With ``k2 == k1`` the windows are disjoint, ``loss_start = 0``, ``save_at = t``, and this reduces to the
    usual ``h = detach(h_final)`` loop. ``carry`` is ``False`` only for windows starting at step 0, whose
    initial state is the model's initial state.

    The chunks are views of ``data`` (do not modify them in place); the last chunk may be shorter.

    Args:
        data: ``(B, N)`` integer tensor from :func:`batchify`, with ``N >= 2``.
        bptt: ``k1``, new (scored) steps per chunk.
        k2: steps back-propagated per chunk, ``k2 >= bptt``. Default: ``bptt``.

    Shape:
        - data: :math:`(B, N)`
        - chunk.inputs, chunk.targets: :math:`(B, t)` with :math:`t \le k_2`

    Example::

        >>> data = batchify(torch.arange(20), 2)          # rows 0..9 and 10..19
        >>> batches = StreamBatches(data, bptt=4)
        >>> len(batches)                                   # ceil(9 / 4)
        3
        >>> chunk = next(iter(batches))
        >>> chunk.inputs.tolist(), chunk.targets.tolist()
        ([[0, 1, 2, 3], [10, 11, 12, 13]], [[1, 2, 3, 4], [11, 12, 13, 14]])
    """

    def __init__(self, data: torch.Tensor, bptt: int, *, k2: int | None = None) -> None:
        check_index_tensor("data", data, 2)
        if data.size(0) < 1 or data.size(1) < 2:
            raise ValueError(f"expected data of shape (B >= 1, N >= 2), got {tuple(data.shape)}")
        self.data = data
        self.bptt = check_int("bptt", bptt, 1)
        self.k2 = self.bptt if k2 is None else check_int("k2", k2, 1)
        if self.k2 < self.bptt:
            raise ValueError(f"expected k2 >= bptt (k1) = {self.bptt}, got k2={self.k2}")

    @property
    def batch_size(self) -> int:
        """Rows ``B``."""
        return self.data.size(0)

    @property
    def num_targets(self) -> int:
        """Scored tokens per epoch, ``B * (N - 1)`` (the denominator of a per-token loss)."""
        return self.data.size(0) * (self.data.size(1) - 1)

    def __len__(self) -> int:
        steps = self.data.size(1) - 1
        return -(-steps // self.bptt)

    def _window_start(self, i: int) -> int:
        return max(0, i * self.bptt - (self.k2 - self.bptt))

    def __getitem__(self, i: int) -> StreamChunk:
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"expected an int chunk index, got {type(i).__name__}")
        if not 0 <= i < n:
            raise IndexError(f"expected a chunk index in [0, {n}), got {i}")
        steps = self.data.size(1) - 1
        start = self._window_start(i)
        end = min((i + 1) * self.bptt, steps)
        next_start = self._window_start(i + 1) if i + 1 < n else 0
        save_at = next_start - start if next_start > 0 else end - start
        return StreamChunk(
            inputs=self.data[:, start:end],
            targets=self.data[:, start + 1 : end + 1],
            loss_start=i * self.bptt - start,
            carry=start > 0,
            start=start,
            save_at=save_at,
        )

    def iter_from(self, n: int) -> Iterator[StreamChunk]:
        """Iterate from chunk ``n`` (``0 <= n <= len(self)``), e.g. to resume a run mid-epoch.

        A resumed run must restore the carried state it had saved after chunk ``n - 1``.
        """
        check_int("n", n, 0)
        if n > len(self):
            raise ValueError(f"expected 0 <= n <= {len(self)} (the number of chunks), got {n}")
        for i in range(n, len(self)):
            yield self[i]

    def __iter__(self) -> Iterator[StreamChunk]:
        return self.iter_from(0)

    def set_epoch(self, epoch: int) -> None:
        """No-op (a stream has one fixed order); present so all batchers share one interface."""
        check_int("epoch", epoch, 0)

    def shard(self, rank: int, world_size: int) -> StreamBatches:
        """The rows of ``rank`` for distributed data parallel training.

        The ``B`` rows are split into ``world_size`` contiguous blocks of ``B / world_size`` rows; rank ``r``
        gets block ``r``. Every rank has the same number of chunks, with the same windows.

        Raises:
            ValueError: if ``B`` is not divisible by ``world_size``, or ``rank`` is out of range.
        """
        r, world = check_rank(rank, world_size)
        b = self.data.size(0)
        if b % world:
            raise ValueError(f"expected batch size B={b} to be divisible by world_size={world}")
        rows = b // world
        return StreamBatches(self.data[r * rows : (r + 1) * rows], self.bptt, k2=self.k2)

    def __repr__(self) -> str:
        b, n = self.data.shape
        return f"StreamBatches(B={b}, N={n}, bptt={self.bptt}, k2={self.k2}, chunks={len(self)})"
