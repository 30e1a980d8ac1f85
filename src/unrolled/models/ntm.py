"""Neural Turing machine (Graves, Wayne & Danihelka 2014): an LSTM controller with read and write heads on an
external memory matrix, as a cell (:class:`NTMCell`, usable in :class:`~unrolled.layers.Recurrent`) and a sequence
model (:class:`NTM`) with a linear read-out."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, check_positive
from unrolled.cells.registry import make_cell
from unrolled.layers.ntm_addressing import address, read, write
from unrolled.layers.recurrent import Recurrent

__all__ = ["NTM", "NTMCell"]

MEMORY_INIT = 1e-6  # a small constant memory at t = 0 (cosine similarity is undefined on exact zeros)


class NTMCell(RecurrentCell):
    r"""One step of a neural Turing machine (Graves et al. 2014) with an LSTM controller.

    .. math::
        \begin{array}{ll}
        (h_t, c_t) = \mathrm{LSTM}([x_t; r_{t-1}], (h_{t-1}, c_{t-1})) \\
        (k, \beta, g, s, \gamma, e, a)^{\text{head}} = \text{split}(W_\text{heads} h_t + b_\text{heads}), \quad
        \beta = \mathrm{softplus}, \; g = \sigma, \; s = \mathrm{softmax}, \; \gamma = 1 + \mathrm{softplus},
        \; e = \sigma, \; a = \tanh \\
        w^{r}_t = \mathrm{address}(M_{t-1}, w^{r}_{t-1}, \dots), \quad
        w^{w}_t = \mathrm{address}(M_{t-1}, w^{w}_{t-1}, \dots), \quad r_t = {w^r_t}^\top M_{t-1} \\
        M_t = M_{t-1} \odot \textstyle\prod (1 - w^w_t e_t^\top) + \sum w^w_t a_t^\top \\
        y_t = [h_t; r_t]
        \end{array}

    (addressing: :mod:`unrolled.layers.ntm_addressing`, eqs. 5-9). The paper leaves the order of reading and
    writing within a step open; here every head addresses :math:`M_{t-1}` and reads happen before this step's
    write (as in common implementations), so all heads are addressed in one batched call. The controller is the
    library's LSTM cell (``controller``, ``make_cell("lstm", I + R·M, H)``); ``heads`` (a Linear) emits every
    head's parameters. At t = 0 the memory holds the constant 1e-6, every head's weighting is one-hot on row 0
    (a fixed start for location-based addressing) and :math:`r_0 = 0`.

    The state is a tuple of flat tensors so that :class:`~unrolled.layers.Recurrent` can carry it and freeze
    it past each sequence's end: ``(y, c, memory, w_read, w_write)``.

    Args:
        input_size: I.
        hidden_size: H, units of the LSTM controller.
        memory_slots: N, rows of the memory (default 128, the paper's).
        memory_width: M, width of a row (default 20, the paper's).
        read_heads: R (default 1).
        write_heads: W (default 1).
        shift_range: r, shifts :math:`-r..r` (default 1, as the paper's copy task).

    Shape:
        - x_t: (B, I); output y_t = [h_t; r_t]: (B, H + R·M).
        - state: y (B, H + R·M), c (B, H), memory (B, N·M), w_read (B, R·N), w_write (B, W·N).

    Example::

        >>> cell = NTMCell(8, 32, memory_slots=16, memory_width=6)
        >>> y, state = cell(torch.randn(4, 8), cell.init_state(4))
        >>> y.shape
        torch.Size([4, 38])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        memory_slots: int = 128,
        memory_width: int = 20,
        read_heads: int = 1,
        write_heads: int = 1,
        shift_range: int = 1,
    ):
        super().__init__()
        for name, v in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("memory_slots", memory_slots),
            ("memory_width", memory_width),
            ("read_heads", read_heads),
            ("write_heads", write_heads),
        ):
            check_positive(name, v)
        if isinstance(shift_range, bool) or not isinstance(shift_range, int) or not 0 <= shift_range < memory_slots:
            raise ValueError(f"shift_range must be an integer in [0, memory_slots={memory_slots}), got {shift_range!r}")
        self._remember(
            input_size=input_size,
            hidden_size=hidden_size,
            memory_slots=memory_slots,
            memory_width=memory_width,
            read_heads=read_heads,
            write_heads=write_heads,
            shift_range=shift_range,
        )
        self.input_size, self.hidden_size = input_size, hidden_size
        self.N, self.M, self.R, self.W, self.S = (
            memory_slots,
            memory_width,
            read_heads,
            write_heads,
            2 * shift_range + 1,
        )
        self.output_size = hidden_size + read_heads * memory_width
        self.projected_size = input_size
        self.controller = make_cell("lstm", input_size + read_heads * memory_width, hidden_size)
        # per head: key M, beta 1, gate 1, shift S, gamma 1; write heads also erase M and add M
        self._address_size = self.M + 3 + self.S
        self.heads = nn.Linear(
            hidden_size, read_heads * self._address_size + write_heads * (self._address_size + 2 * self.M)
        )

    def init_state(self, batch, device=None, dtype=None) -> tuple[Tensor, ...]:
        y = self._zeros(batch, self.output_size, device, dtype)
        c = self._zeros(batch, self.hidden_size, device, dtype)
        memory = self._zeros(batch, self.N * self.M, device, dtype) + MEMORY_INIT
        w_read = self._zeros(batch, self.R * self.N, device, dtype)
        w_write = self._zeros(batch, self.W * self.N, device, dtype)
        w_read.view(batch, self.R, self.N)[..., 0] = 1.0
        w_write.view(batch, self.W, self.N)[..., 0] = 1.0
        return y, c, memory, w_read, w_write

    def _addressing(self, p: Tensor) -> tuple[Tensor, ...]:
        """Split (B, K, M + 3 + S) head outputs into key, beta, gate, shift, gamma with their ranges."""
        M, S = self.M, self.S
        key, beta, gate, shift, gamma = p.split([M, 1, 1, S, 1], dim=-1)
        return key, F.softplus(beta), torch.sigmoid(gate), torch.softmax(shift, dim=-1), 1 + F.softplus(gamma)

    def step(self, xp_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
        y, c, memory, w_read, w_write = state
        B, H = xp_t.shape[0], self.hidden_size
        memory = memory.view(B, self.N, self.M)  # (B, N, M)
        ctrl_in = torch.cat([xp_t, y[:, H:]], dim=-1)  # [x_t; r_{t-1}]: (B, I + R·M)
        h, (_, c) = self.controller.step(self.controller.project_input(ctrl_in), (y[:, :H], c))  # (B, H)
        params = self.heads(h)  # (B, R·A + W·(A + 2M))
        A, R, W = self._address_size, self.R, self.W
        p_read, p_write = params.split([R * A, W * (A + 2 * self.M)], dim=-1)
        p_write = p_write.view(B, W, A + 2 * self.M)  # (B, W, A + 2M)
        p_heads = torch.cat([p_read.view(B, R, A), p_write[..., :A]], dim=1)  # every head's addressing: (B, R+W, A)
        w_prev = torch.cat([w_read.view(B, R, self.N), w_write.view(B, W, self.N)], dim=1)  # (B, R+W, N)
        w = address(memory, w_prev, *self._addressing(p_heads))  # all heads on M_{t-1} at once: (B, R+W, N)
        w_r, w_w = w.split([R, W], dim=1)  # (B, R, N), (B, W, N)
        r = read(memory, w_r).reshape(B, R * self.M)  # r_t from M_{t-1}: (B, R·M)
        erase = torch.sigmoid(p_write[..., A : A + self.M])  # (B, W, M)
        add = torch.tanh(p_write[..., A + self.M :])  # (B, W, M)
        memory = write(memory, w_w, erase, add)  # M_t: (B, N, M)
        y = torch.cat([h, r], dim=-1)  # (B, H + R·M)
        return y, (y, c, memory.reshape(B, -1), w_r.reshape(B, -1), w_w.reshape(B, -1))


class NTM(nn.Module):
    r"""A neural Turing machine over sequences: :class:`NTMCell` unrolled by :class:`~unrolled.layers.Recurrent`
    and a linear read-out :math:`o_t = W_o [h_t; r_t] + b_o` (logits; the copy task applies a sigmoid).

    Args:
        input_size: I.
        output_size: O, read-out features.
        hidden_size: H, controller units (default 100, the paper's copy controller).
        memory_slots, memory_width, read_heads, write_heads, shift_range: see :class:`NTMCell`.

    Shape:
        - input: (B, T, I); lengths (B,) optional.
        - output: (B, T, O), zero past each sequence's end before the read-out (so the read-out bias there).

    Example::

        >>> ntm = NTM(input_size=9, output_size=8, hidden_size=32, memory_slots=16, memory_width=8)
        >>> ntm(torch.randn(2, 5, 9)).shape
        torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_size: int = 100,
        memory_slots: int = 128,
        memory_width: int = 20,
        read_heads: int = 1,
        write_heads: int = 1,
        shift_range: int = 1,
    ):
        super().__init__()
        check_positive("output_size", output_size)
        cell = NTMCell(input_size, hidden_size, memory_slots, memory_width, read_heads, write_heads, shift_range)
        self.rnn = Recurrent(cell, input_size, hidden_size)
        self.readout = nn.Linear(cell.output_size, output_size)  # W_o, b_o

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        y, _ = self.rnn(x, lengths=lengths)  # (B, T, H + R·M)
        return self.readout(y)  # (B, T, O)
