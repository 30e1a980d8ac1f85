"""``Recurrent``: the unrolling engine. Any cell, stacked, bidirectional, with delays, lengths and state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, State
from unrolled.cells.registry import make_cell
from unrolled.layers.fused import fusable, run_fused
from unrolled.layers.lengths import resolve_lengths, reverse_time, time_mask
from unrolled.layers.merge import MERGES, get_merge
from unrolled.layers.regularization import variational_mask
from unrolled.layers.scan import prefer_scan_over_fused, scan, supports_scan
from unrolled.layers.unroll import UnrollOptions, unroll, unroll_plain
from unrolled.state import detach_state

BACKENDS = ("auto", "fused", "scan", "loop")
_DIRECTION = ("forward", "reverse")


class Recurrent(nn.Module):
    r"""A recurrent layer stack built from any cell.

    For each layer :math:`l` and direction, the cell's step :math:`(y_t, s_t) = \mathrm{cell}(x_t, s_{t-1})` is
    unrolled over time. With ``delays=(1, d_2, ...)`` each step also receives the layer's earlier outputs
    :math:`y_{t-d}` through their own matrices :math:`W_d` (skip connections through time, Lin et al. 1996;
    Goodfellow et al., *Deep Learning* §10.9.1), added to the cell's projected input:

    .. math::
        \tilde x_t = \mathrm{proj}(x_t) + \textstyle\sum_{d > 1} W_d\, y_{t-d}, \qquad y_{t-d} = 0 \text{ for } t < d.

    Layers are stacked with dropout between them (``dropout``) and, with ``residual=True``, a residual
    connection around every layer whose input and output widths agree. Bidirectional layers run a second cell
    on each sequence reversed *within its own length* and merge both outputs (``merge``: concat, sum or mean).

    Speed: when a layer consists of standard cells (Elman tanh/relu, LSTM without peepholes, GRU with
    reset="after") and no feature that torch lacks is on (delays, recurrent dropout, zoneout, teacher
    forcing), that layer runs torch's fused kernel on the cells' own parameters (``backend="auto"``, the
    default), except on CPU when gradients are needed, where the scan path is measured faster than torch's
    kernel: Elman layers, and GRU layers with B <= 16 (see :data:`~unrolled.layers.scan.SCAN_BEATS_FUSED_ON_CPU`;
    :meth:`paths` tells what runs). Other cells with a scan kernel (Elman, LSTM incl. peepholes, GRU both
    resets, leaky, layer-norm LSTM and GRU) run the *scan* path (:mod:`unrolled.layers.scan`): the input
    projection for all steps in one product, then a time loop with a hand-written BPTT backward, also with
    ``lengths``. Everything else (and scan cells while delays, recurrent dropout in training, zoneout or
    teacher forcing are on) runs the generic loop over ``cell.step``. ``backend="scan"`` / ``"fused"`` demand
    their path and error if impossible; ``"loop"`` forces the generic loop (the only path that supports
    double backward, e.g. gradient penalties, for every cell).

    Args:
        cell: a registry name (``"elman"``, ``"lstm"``, ``"gru"``, ``"gru_before"``, ``"leaky"``, ``"jordan"``,
            ``"ln_lstm"``, ``"ln_gru"``, ...) or a :class:`~unrolled.cells.RecurrentCell` instance (used for
            layer 0, forward direction; other layers and directions get fresh cells of the same kind).
        input_size: I. hidden_size: H.
        num_layers: number of stacked layers L. bidirectional: add a reverse direction (D = 2).
        batch_first: inputs and outputs are (B, T, ·) if True (default), else (T, B, ·).
        dropout: dropout probability on the outputs of every layer but the last.
        residual: add each layer's input to its output where the widths agree (layers >= 1).
        merge: ``"concat"`` (default), ``"sum"`` or ``"mean"`` for bidirectional layers.
        delays: time delays of the recurrent paths; must contain 1 (the cell's own recurrence).
        recurrent_dropout: variational dropout (Gal & Ghahramani 2016): one mask per sequence, reused at every
            step, on the hidden part of the state entering each step. For LSTM and Elman this touches only the
            recurrent product; for GRU and leaky cells, whose update also interpolates with the previous state,
            the masked state enters that interpolation too.
        zoneout: probability that a unit keeps its previous value at a step (Krueger et al. 2017), applied to
            every part of the state; evaluation uses the expectation.
        backend: ``"auto"``, ``"fused"``, ``"scan"`` or ``"loop"``.
        **cell_kwargs: passed to every cell (e.g. ``nonlinearity="relu"``, ``proj_size=64``, ``reset="before"``,
            ``tau_range=(1, 100)``, ``bias=False``).

    Inputs: ``input``, ``state`` (optional), ``lengths`` or ``mask`` (optional), ``teacher`` (optional)
        - input: (B, T, I) (or (T, B, I) with ``batch_first=False``).
        - state: as returned by a previous call; None for zeros.
        - lengths: (B,) integers in 1..T; outputs past a sequence's end are zero and its final state is the one
          at its own last step. ``mask``: (B, T) boolean, True on a prefix of each row.
        - teacher: (B, T, O) values fed back instead of the model's own previous output, for output-recurrent
          cells (teacher forcing; one layer, one direction).

    Outputs: ``output``, ``state``
        - output: (B, T, D·O) with concat, else (B, T, O); O = the cell's output size (H, or P with projection).
        - state: a tuple with one entry per layer and direction, ordered like torch (layer 0 forward, layer 0
          reverse, layer 1 forward, ...); each entry is the cell's state (with delays: ``(cell_state,
          history)``, history the last max(delays) outputs (B, dmax, O)). Pass it back to continue a stream;
          call :func:`detach_state` between chunks for truncated BPTT.

    Example::

        >>> rnn = Recurrent("lstm", 16, 32, num_layers=2, bidirectional=True)
        >>> x = torch.randn(4, 10, 16)
        >>> y, state = rnn(x, lengths=torch.tensor([10, 7, 3, 1]))
        >>> y.shape
        torch.Size([4, 10, 64])
    """

    def __init__(
        self,
        cell: str | RecurrentCell,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        batch_first: bool = True,
        dropout: float = 0.0,
        residual: bool = False,
        merge: str = "concat",
        delays: Sequence[int] = (1,),
        recurrent_dropout: float = 0.0,
        zoneout: float = 0.0,
        backend: str = "auto",
        **cell_kwargs: Any,
    ):
        super().__init__()
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        for name, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout), ("zoneout", zoneout)):
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be a number in [0, 1), got {p!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        get_merge(merge)
        delays = tuple(delays) if isinstance(delays, (tuple, list)) else (delays,)
        if (
            not delays
            or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in delays)
            or len(set(delays)) != len(delays)
            or 1 not in delays
        ):
            raise ValueError(f"delays must be distinct positive integers including 1, got {delays!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.batch_first, self.num_directions = (
            bidirectional,
            batch_first,
            2 if bidirectional else 1,
        )
        self.dropout, self.residual, self.merge = dropout, residual, merge
        self._merge = MERGES[merge]
        self.delays = tuple(sorted(delays))
        self.extra_delays = tuple(d for d in self.delays if d > 1)
        self.recurrent_dropout, self.zoneout, self.backend = recurrent_dropout, zoneout, backend

        if isinstance(cell, RecurrentCell) and cell_kwargs:
            raise TypeError(
                f"cell options {sorted(cell_kwargs)} apply only to a cell given by name; "
                "pass them to the cell instance instead"
            )
        cells: list[RecurrentCell] = []
        layer_in = input_size
        for _layer in range(num_layers):
            for _direction in range(self.num_directions):
                if isinstance(cell, RecurrentCell) and not cells:
                    if cell.input_size != input_size or cell.hidden_size != hidden_size:
                        raise ValueError(
                            f"cell instance has input_size={cell.input_size}, hidden_size={cell.hidden_size}; "
                            f"expected {input_size} and {hidden_size} as given to Recurrent"
                        )
                    c = cell
                elif isinstance(cell, RecurrentCell):
                    c = cell.spawn(layer_in)
                elif isinstance(cell, str):
                    c = make_cell(cell, layer_in, hidden_size, **cell_kwargs)
                else:
                    raise TypeError(f"cell must be a name or a RecurrentCell, got {type(cell).__name__}")
                cells.append(c)
            out = cells[-1].output_size
            layer_in = out * self.num_directions if merge == "concat" else out
        self.cells = nn.ModuleList(cells)
        self.output_size = layer_in

        self.delay_weights = nn.ModuleList()
        if self.extra_delays:
            for c in self.cells:
                G = getattr(c, "projected_size", c.input_size)
                ws = nn.ParameterList()
                for _ in self.extra_delays:
                    w = nn.Parameter(torch.empty(G, c.output_size))  # W_d: (G, O)
                    nn.init.uniform_(w, -1 / math.sqrt(c.hidden_size), 1 / math.sqrt(c.hidden_size))
                    ws.append(w)
                self.delay_weights.append(ws)

        extras = bool(self.extra_delays) or recurrent_dropout > 0 or zoneout > 0
        D = self.num_directions
        self._fused = [
            backend in ("auto", "fused") and not extras and fusable(list(self.cells[layer * D : (layer + 1) * D]))
            for layer in range(num_layers)
        ]
        if backend == "fused" and not all(self._fused):
            raise ValueError(
                "backend='fused' needs standard cells (elman tanh/relu, lstm without peepholes, gru reset='after') "
                "and no delays, recurrent dropout or zoneout"
            )

        self._scan = [backend in ("auto", "scan") and supports_scan(c) for c in self.cells]
        if backend == "scan" and (extras or not all(self._scan)):
            raise ValueError(
                "backend='scan' needs cells with a scan kernel (elman, lstm without projection, gru, leaky, ln_lstm, "
                "ln_gru) and no delays, recurrent dropout or zoneout"
            )

    # ------------------------------------------------------------------------------------------------------
    @property
    def uses_fused(self) -> list[bool]:
        """Per layer: whether torch's fused kernel can serve it (on CPU, Elman and GRU layers may still take the
        faster scan path: :meth:`paths` tells what actually runs)."""
        return list(self._fused)

    def _runs_fused(self, layer: int, x: Tensor, teacher: Tensor | None, batch: int) -> bool:
        if not self._fused[layer] or teacher is not None:
            return False
        if self.backend == "fused":
            return True
        cells = list(self.cells[layer * self.num_directions : (layer + 1) * self.num_directions])
        params = (p for c in cells for p in c.parameters())
        needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params))
        return not prefer_scan_over_fused(cells, x, batch, needs_grad)

    def paths(self, device: torch.device | str = "cpu", grad: bool = True, batch: int = 1) -> list[str]:
        """Per layer, the path a forward call on ``device`` with ``batch`` sequences takes with (``grad=True``)
        or without gradients: ``"fused"`` (torch's kernel), ``"scan"`` (:mod:`unrolled.layers.scan`) or
        ``"loop"`` (teacher forcing aside, which always takes the loop)."""
        probe = torch.empty(0, device=device)
        extras = bool(self.extra_delays) or self.zoneout > 0 or (self.recurrent_dropout > 0 and self.training)
        D = self.num_directions
        result = []
        for layer in range(self.num_layers):
            with torch.set_grad_enabled(grad):
                fused = self._runs_fused(layer, probe.requires_grad_(grad), None, batch)
            scan = all(self._scan[layer * D : (layer + 1) * D]) and not extras
            result.append("fused" if fused else "scan" if scan else "loop")
        return result

    @property
    def uses_scan(self) -> list[bool]:
        """Per cell (layer and direction, torch's order): whether it runs the scan path when not fused."""
        return list(self._scan)

    def init_state(self, batch: int, device=None, dtype=None) -> tuple:
        """Zero state for a batch: one entry per layer and direction."""
        states = []
        for c in self.cells:
            s = c.init_state(batch, device, dtype)
            if self.extra_delays:
                h = s if isinstance(s, Tensor) else s[0]
                s = (s, h.new_zeros(batch, max(self.extra_delays), c.output_size))
            states.append(s)
        return tuple(states)

    detach_state = staticmethod(detach_state)

    def _check_state(self, state: Any, B: int, x: Tensor) -> tuple:
        expected = self.init_state(B, x.device, x.dtype)
        if not isinstance(state, (tuple, list)) or len(state) != len(expected):
            got = len(state) if isinstance(state, (tuple, list)) else type(state).__name__
            raise ValueError(
                f"state must be a tuple of {len(expected)} per-layer-and-direction states, as returned by "
                f"Recurrent or init_state, got {got}"
            )
        D = self.num_directions
        for i, (s, e) in enumerate(zip(state, expected)):
            got_shapes = [tuple(t.shape) for t in _flatten(s)]
            want = [tuple(t.shape) for t in _flatten(e)]
            if got_shapes != want:
                raise ValueError(
                    f"state of layer {i // D} ({_DIRECTION[i % D]}) has shapes {got_shapes}, expected {want}"
                )
        return tuple(state)

    def forward(
        self,
        input: Tensor,
        state: Any = None,
        lengths: Tensor | None = None,
        mask: Tensor | None = None,
        teacher: Tensor | None = None,
    ) -> tuple[Tensor, tuple]:
        if not isinstance(input, Tensor) or input.dim() != 3:
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(f"Recurrent expected a 3-D input {layout}, got {shape}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"Recurrent expected {self.input_size} input features (I), got {input.shape[-1]}")
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, I)
        T, B = x.shape[0], x.shape[1]
        if T == 0:
            raise ValueError("Recurrent got an empty sequence (T = 0); expected at least one time step")
        lengths = resolve_lengths(lengths, mask, B, T, x.device)
        if lengths is not None:  # padding never reaches a cell, so any values there (even NaN) are harmless
            x = x.masked_fill(~time_mask(lengths, T).unsqueeze(-1), 0.0)
        states = self.init_state(B, x.device, x.dtype) if state is None else self._check_state(state, B, x)
        if teacher is not None:
            teacher = self._check_teacher(teacher, T, B)

        D = self.num_directions
        new_states: list = []
        layer_in = x
        for layer in range(self.num_layers):
            idx = range(layer * D, (layer + 1) * D)
            if self._runs_fused(layer, layer_in, teacher, B):
                out, finals = run_fused(
                    [self.cells[i] for i in idx], layer_in, [states[i] for i in idx], lengths, self.training
                )  # (T, B, D*O)
                if D == 2 and self.merge != "concat":
                    out = self._merge(*out.chunk(2, -1))  # (T, B, O)
            else:
                outs, finals = [], []
                for d, i in enumerate(idx):
                    inp = layer_in if d == 0 else reverse_time(layer_in, lengths)
                    y, s = self._direction(i, inp, states[i], lengths, teacher)
                    outs.append(y if d == 0 else reverse_time(y, lengths))
                    finals.append(s)
                out = outs[0] if D == 1 else self._merge(*outs)
            new_states.extend(finals)
            if self.residual and layer > 0 and out.shape[-1] == layer_in.shape[-1]:
                out = out + layer_in
            if self.dropout > 0 and layer < self.num_layers - 1:
                out = F.dropout(out, self.dropout, self.training)
            layer_in = out
        output = layer_in.transpose(0, 1) if self.batch_first else layer_in
        return output, tuple(new_states)

    def _direction(self, i: int, x: Tensor, state: State, lengths: Tensor | None, teacher: Tensor | None):
        cell = self.cells[i]
        xp = cell.project_input(x)  # (T, B, I) -> (T, B, G)
        history = None
        if self.extra_delays:
            state, history = state
        rec_mask = None
        if self.recurrent_dropout > 0 and self.training:
            rec_mask = variational_mask(x.shape[1], cell.output_size, self.recurrent_dropout, x)
        plain = history is None and rec_mask is None and teacher is None and self.zoneout == 0
        if plain and self._scan[i]:
            y, s = scan(cell, xp, state, lengths)
            if lengths is not None:
                y = y.masked_fill(~time_mask(lengths, x.shape[0]).unsqueeze(-1), 0.0)  # zero past each end
            return y, s
        if plain and lengths is None:
            return unroll_plain(cell, xp, state)
        opt = UnrollOptions(
            lengths=lengths,
            delays=self.extra_delays,
            delay_weights=tuple(self.delay_weights[i]) if self.extra_delays else (),
            history=history,
            recurrent_mask=rec_mask,
            zoneout=self.zoneout,
            training=self.training,
            teacher=teacher,
        )
        y, s, history = unroll(cell, xp, state, opt)
        return y, (s if history is None else (s, history))

    def _check_teacher(self, teacher: Tensor, T: int, B: int) -> Tensor:
        cell = self.cells[0]
        if not cell.supports_teacher_forcing:
            raise ValueError(
                f"teacher forcing needs an output-recurrent cell (e.g. 'jordan'), not {type(cell).__name__}"
            )
        if self.num_layers != 1 or self.bidirectional:
            raise ValueError("teacher forcing needs a single-layer, unidirectional Recurrent")
        t = teacher.transpose(0, 1) if self.batch_first else teacher  # (T, B, O)
        if tuple(t.shape) != (T, B, cell.output_size):
            raise ValueError(
                f"teacher must have shape (B, T, O) = ({B}, {T}, {cell.output_size}), got {tuple(teacher.shape)}"
            )
        return t

    # --- interchange with torch.nn --------------------------------------------------------------------------
    @classmethod
    def from_torch(cls, module: nn.Module, **kwargs: Any) -> Recurrent:
        """Build a Recurrent from a torch.nn.RNN / LSTM / GRU with the same weights (exact copy)."""
        from unrolled.layers.convert import from_torch

        return from_torch(cls, module, **kwargs)

    def to_torch(self) -> nn.Module:
        """The equivalent torch.nn.RNN / LSTM / GRU with the same weights (standard cells only)."""
        from unrolled.layers.convert import to_torch

        return to_torch(self)

    def state_to_torch(self, state: tuple) -> Tensor | tuple[Tensor, Tensor]:
        """Stack a Recurrent state into torch.nn's layout: h_n (L*D, B, H), or (h_n, c_n) for LSTM cells."""
        if self.extra_delays:
            raise ValueError("state_to_torch needs a Recurrent without delays: torch.nn has no place for the history")
        if isinstance(state[0], Tensor):
            return torch.stack(list(state))
        return tuple(torch.stack([s[k] for s in state]) for k in range(len(state[0])))

    def state_from_torch(self, hx: Tensor | tuple[Tensor, ...]) -> tuple:
        """The inverse of :meth:`state_to_torch`."""
        if isinstance(hx, Tensor):
            return tuple(hx.unbind(0))
        return tuple(zip(*(h.unbind(0) for h in hx)))


def _flatten(state: Any) -> list[Tensor]:
    if isinstance(state, Tensor):
        return [state]
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _flatten(s)]
    raise ValueError(f"state parts must be tensors or tuples of tensors, got {type(state).__name__}")
