"""``Recurrent``: the unrolling engine. Any cell, stacked, bidirectional, with delays, lengths and state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.cells.base import RecurrentCell, State, check_positive, state_mismatch
from unrolled.cells.registry import make_cell
from unrolled.layers.convert import from_torch, state_from_torch, state_to_torch, to_torch
from unrolled.layers.flat_weights import Offsets, flatten_layer, is_flat
from unrolled.layers.fused import STANDARD_CELLS, fusable, kernel_weights, run_fused
from unrolled.layers.lengths import resolve_lengths, reverse_time, time_mask
from unrolled.layers.merge import get_concatenated_merge, get_merge
from unrolled.layers.regularization import variational_mask
from unrolled.layers.scan import prefer_scan_over_fused, scan, supports_scan
from unrolled.layers.triton import run_triton, triton_runs
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
        \tilde x_t = \mathrm{proj}(x_t) + \textstyle\sum_{d > 1} W_d\, y_{t-d}, \qquad y_{t-d} = 0 \text{ for } t < d

    (or, for :math:`t < d`, the outputs carried over from the previous chunk in the state's history).
    ``delay_weights[i][k]`` is :math:`W_d` (G, O) of cell ``i`` for :math:`d` = ``extra_delays[k]``, the delays
    above 1 in ascending order.

    Layers are stacked with dropout between them (``dropout``) and, with ``residual=True``, a residual
    connection around every layer whose input and output widths agree. Bidirectional layers run a second cell
    on each sequence reversed *within its own length* and merge both outputs (``merge``: concat, sum or mean).

    Speed: when a layer consists of standard cells (Elman tanh/relu, LSTM without peepholes, GRU with
    reset="after", the table :data:`~unrolled.layers.fused.TORCH_TWINS`) and no feature that torch lacks is on
    (delays, recurrent dropout, zoneout, teacher forcing), that layer runs torch's fused kernel on the cells' own
    parameters (``backend="auto"``, the default), except on CPU when gradients are needed, where the scan path is
    measured faster than torch's kernel: Elman layers, and GRU layers with B <= 16 (see
    :data:`~unrolled.layers.scan.SCAN_BEATS_FUSED_ON_CPU`; :meth:`paths` tells what runs). Other cells with a scan
    kernel (Elman, LSTM incl. peepholes, GRU both resets, leaky, layer-norm LSTM and GRU) run the *scan* path
    (:mod:`unrolled.layers.scan`): the input projection for all steps in one product, then a time loop with a
    hand-written BPTT backward, also with ``lengths``. On CUDA with Triton installed (the ``gpu`` extra), custom
    cells that have a fused Triton kernel and fit on chip run it instead of the scan path (``backend="auto"``,
    :mod:`unrolled.layers.triton`: the whole time loop in one launch, same contract and parameters). Everything
    else (and scan cells while delays, recurrent dropout in training, zoneout or teacher forcing are on) runs
    the generic loop over ``cell.step``. ``backend="scan"`` / ``"fused"`` demand their path and error if
    impossible; ``"loop"`` forces the generic loop over ``cell.step``. Every path supports double backward (e.g.
    gradient penalties); the scan path by recomputing its forward as a differentiable loop when
    ``create_graph=True``.

    Mixed precision: under ``torch.autocast`` every path takes the same route as outside it and follows one
    policy (:mod:`unrolled.layers.precision`): the recurrence (per-step recurrent products, gates, normalisation,
    the state :math:`h_t` and memory :math:`c_t`) runs in the parameters' dtype (float32) with autocast off,
    since rounding the state every step compounds over long T; on the scan, Triton and loop paths the input
    projection for all T steps, computed before the recurrence, runs in the autocast dtype. torch's fused kernel
    runs wholly in float32 (its autocast wrapper would run cuDNN in float16 even under a bfloat16 autocast). The
    output is returned in the autocast dtype (reduced precision, as ``torch.nn.LSTM``'s under autocast), the final
    state in the parameters' dtype, and the parameters' gradients in theirs.

    Flat weights: the weights of every layer that can run torch's kernel are views into one buffer per layer, in
    the layout cuDNN reads (:mod:`unrolled.layers.flat_weights`; what ``torch.nn.RNNBase.flatten_parameters``
    does), so cuDNN never copies them at a call. They are flattened on construction, after ``.to()`` /
    ``.cuda()`` / ``.double()``, ``load_state_dict`` and unpickling or ``copy.deepcopy``, and by ``forward``
    when a weight was replaced; parameter names, ``state_dict`` and optimizer steps see no difference.
    :meth:`flat_layers` tells which layers are flat.

    Args:
        cell: a registry name (``"elman"``, ``"lstm"``, ``"gru"``, ``"gru_before"``, ``"leaky"``, ``"jordan"``,
            ``"ln_lstm"``, ``"ln_gru"``, ...) or a :class:`~unrolled.cells.RecurrentCell` instance (used for
            layer 0, forward direction; other layers and directions get fresh cells of the same kind).
        input_size: I, features of the input.
        hidden_size: H, units of each cell.
        num_layers: L, the number of stacked layers (default 1).
        bidirectional: add a reverse direction in every layer (D = 2; default False, D = 1).
        batch_first: inputs and outputs are (B, T, ·) if True (default), else (T, B, ·).
        dropout: dropout probability on the outputs of every layer but the last.
        residual: add each layer's input to its output where the widths agree (layers >= 1).
        merge: ``"concat"`` (default), ``"sum"`` or ``"mean"``: how bidirectional layers combine directions.
        delays: time delays of the recurrent paths; must contain 1 (the cell's own recurrence).
        recurrent_dropout: variational dropout (Gal & Ghahramani 2016): one mask per sequence, reused at every
            step, on the fed-back value where it enters the cell's recurrent matrix products, and nowhere else
            (:meth:`~unrolled.cells.RecurrentCell.step_with_dropout`): Elman :math:`W h`, LSTM
            :math:`W_{hh} h` (never :math:`c`), GRU :math:`W_{hr} h, W_{hz} h` and :math:`W_{hn} h` (after) or
            :math:`W_{hn}(r \odot h)` (before), leaky :math:`W s`, Jordan :math:`W y`. The GRU and leaky
            interpolations with the previous state read it unmasked. Off in evaluation.
        zoneout: probability that a unit keeps its previous value at a step (Krueger et al. 2017), a fresh
            mask at every step, applied to every part of the state; evaluation uses the expectation.
        backend: ``"auto"``, ``"fused"``, ``"scan"`` or ``"loop"``.
        **cell_kwargs: passed to every cell (e.g. ``nonlinearity="relu"``, ``proj_size=64``, ``reset="before"``,
            ``tau_range=(1, 100)``, ``bias=False``).

    Inputs: ``input``, ``state`` (optional), ``lengths`` or ``mask`` (optional), ``teacher`` (optional)
        - input: the sequences.
        - state: as returned by a previous call (same dtype and device as the input); None for zeros.
        - lengths: integers in 1..T; outputs past a sequence's end are zero and its final state is the one
          at its own last step. ``mask``: boolean (or 0/1), True on a prefix of each row.
        - teacher: values fed back instead of the model's own previous output, for output-recurrent cells
          (teacher forcing; one layer, one direction).

    Outputs: ``output``, ``state``
        - output: the last layer's outputs, zero past each sequence's end.
        - state: a tuple with one entry per layer and direction, ordered like torch (layer 0 forward, layer 0
          reverse, layer 1 forward, ...); each entry is the cell's state (with delays: ``(cell_state,
          history)``, history the last max(delays) outputs). Pass it back to continue a stream; call
          :func:`detach_state` between chunks for truncated BPTT.

    Shape:
        B batch, T time, I input features, H hidden units, D directions, O a cell's output size (H, or P with
        an LSTM projection), L layers, d_max = max(delays).

        - input: (B, T, I), or (T, B, I) with ``batch_first=False``.
        - lengths: (B,); mask: (B, T).
        - teacher: (B, T, O), or (T, B, O) with ``batch_first=False``.
        - output: (B, T, D·O) with ``merge="concat"``, else (B, T, O) (time first with ``batch_first=False``).
        - state: L·D entries, each the cell's state (e.g. h (B, H); LSTM (h, c) with h (B, O), c (B, H)), with
          delays paired with a history (B, d_max, O).

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
        check_positive("num_layers", num_layers)
        for name, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout), ("zoneout", zoneout)):
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be a number in [0, 1), got {p!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self._merge = get_merge(merge)
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
        # what the fused path's (T, B, D*O) output needs: resolved here, not tested in the layer loop
        self._merge_concatenated = get_concatenated_merge(merge, self.num_directions)
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
                f"backend='fused' needs standard cells ({STANDARD_CELLS}) and no delays, recurrent dropout or zoneout"
            )

        self._scan = [backend in ("auto", "scan") and supports_scan(c) for c in self.cells]
        if backend == "scan" and (extras or not all(self._scan)):
            raise ValueError(
                "backend='scan' needs cells with a scan kernel (elman, lstm without projection, gru, leaky, ln_lstm, "
                "ln_gru) and no delays, recurrent dropout or zoneout"
            )

        # per layer, the storage offsets of its flattened kernel weights (None: never flattened); flatten_parameters
        self._flat_offsets: list[Offsets] = [None] * num_layers
        self.flatten_parameters()
        self.register_load_state_dict_post_hook(_flatten_after_load)

    # --- flat weights (unrolled.layers.flat_weights) ----------------------------------------------------------
    def _layer_cells(self, layer: int) -> list[RecurrentCell]:
        D = self.num_directions
        return list(self.cells[layer * D : (layer + 1) * D])

    def flatten_parameters(self) -> None:
        """Make the weights of every layer that can run torch's kernel views into one buffer per layer, in the
        layout cuDNN reads (``torch._cudnn_rnn_flatten_weight`` on CUDA, the same order packed on CPU), as
        ``torch.nn.RNNBase.flatten_parameters`` does; layers already flat are left alone. Called on construction,
        after ``.to()``, ``load_state_dict`` and unpickling, and by ``forward`` when a weight was replaced."""
        offsets = self.__dict__.setdefault("_flat_offsets", [None] * self.num_layers)
        for layer in range(self.num_layers):
            if not self._fused[layer]:
                offsets[layer] = None
                continue
            cells = self._layer_cells(layer)
            if not is_flat(kernel_weights(cells), offsets[layer]):
                offsets[layer] = flatten_layer(cells) or offsets[layer]

    def flat_layers(self) -> list[bool]:
        """Per layer: whether the weights torch's kernel reads are now views into that layer's one buffer (False
        for layers that cannot run fused, and for weights that are not plain parameters, e.g. under weight drop
        in training)."""
        return [
            self._fused[layer] and is_flat(kernel_weights(self._layer_cells(layer)), self._flat_offsets[layer])
            for layer in range(self.num_layers)
        ]

    def _kernel_weights(self, layer: int, cells: list[RecurrentCell]) -> list[Tensor]:
        """``layer``'s weights for torch's kernel, flattened again first if they stopped being flat (a parameter
        replaced, or its storage changed by hand); the separate tensors are used as they are while tracing or
        compiling, or when they cannot be flattened (same numbers, only cuDNN copies them)."""
        weights = kernel_weights(cells)
        if not is_flat(weights, self._flat_offsets[layer]) and not _tracing():
            # same tensor objects, storage moved. When they cannot be flattened (a masked weight-drop matrix, a
            # functional_call substitute) the offsets are kept: they describe the layer, not these tensors, so
            # the parameters, once back, are recognised as still flat and not copied again
            self._flat_offsets[layer] = flatten_layer(cells) or self._flat_offsets[layer]
        return weights

    def _apply(self, fn, recurse: bool = True):
        # .to() / .cuda() / .double() / .half() convert each parameter on its own: gather them again
        module = super()._apply(fn, recurse)
        self.flatten_parameters()
        return module

    def __setstate__(self, state: dict) -> None:
        # pickle and copy.deepcopy rebuild each parameter on its own storage: gather them again
        super().__setstate__(state)
        self.flatten_parameters()

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
        or without gradients: ``"fused"`` (torch's kernel), ``"triton"`` (:mod:`unrolled.layers.triton`, CUDA
        only), ``"scan"`` (:mod:`unrolled.layers.scan`) or ``"loop"`` (teacher forcing aside, which always takes
        the loop)."""
        probe = torch.empty(0, device=device)
        extras = bool(self.extra_delays) or self.zoneout > 0 or (self.recurrent_dropout > 0 and self.training)
        D = self.num_directions
        result = []
        for layer in range(self.num_layers):
            with torch.set_grad_enabled(grad):
                fused = self._runs_fused(layer, probe.requires_grad_(grad), None, batch)
            cells = self.cells[layer * D : (layer + 1) * D]
            scan = all(self._scan[layer * D : (layer + 1) * D]) and not extras
            triton = scan and self.backend == "auto" and all(triton_runs(c, probe.device) for c in cells)
            result.append("fused" if fused else "triton" if triton else "scan" if scan else "loop")
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
            parts = _flatten(s)
            got_shapes = [tuple(t.shape) for t in parts]
            want = [tuple(t.shape) for t in _flatten(e)]
            if got_shapes != want:
                raise ValueError(
                    f"state of layer {i // D} ({_DIRECTION[i % D]}) has shapes {got_shapes}, expected {want}"
                )
            problem = state_mismatch(parts, x)
            if problem:
                raise ValueError(f"state of layer {i // D} ({_DIRECTION[i % D]}): {problem}")
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
        weight = next(self.parameters(), None)
        if weight is not None and state_mismatch((input,), weight):  # wrong device, or wrong dtype outside autocast
            raise ValueError(
                f"Recurrent expected input on {weight.device} with dtype {weight.dtype} (the parameters'), got "
                f"{input.device} {input.dtype}; move the input or the module (.to)"
            )
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, I)
        T, B = x.shape[0], x.shape[1]
        if T == 0:
            raise ValueError("Recurrent got an empty sequence (T = 0); expected at least one time step")
        lengths = resolve_lengths(lengths, mask, B, T, x.device)
        if lengths is not None:  # padding never reaches a cell, so any values there (even NaN) are harmless
            x = x.masked_fill(~time_mask(lengths, T).unsqueeze(-1), 0.0)
        states = self.init_state(B, x.device, x.dtype) if state is None else self._check_state(state, B, x)
        if teacher is not None:
            teacher = self._check_teacher(teacher, T, B, x)

        D = self.num_directions
        new_states: list = []
        layer_in = x
        for layer in range(self.num_layers):
            idx = range(layer * D, (layer + 1) * D)
            if self._runs_fused(layer, layer_in, teacher, B):
                cells = [self.cells[i] for i in idx]
                weights = self._kernel_weights(layer, cells)
                out, finals = run_fused(
                    cells, layer_in, [states[i] for i in idx], lengths, self.training, weights
                )  # (T, B, D*O)
                out = self._merge_concatenated(out)  # (T, B, D*O) -> (T, B, O) unless concat
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
            like = next(cell.parameters(), x)  # the recurrence's dtype (float32 under autocast too)
            rec_mask = variational_mask(x.shape[1], cell.output_size, self.recurrent_dropout, like)
        plain = history is None and rec_mask is None and teacher is None and self.zoneout == 0
        if plain and self._scan[i] and self.backend == "auto" and triton_runs(cell, x.device):
            return run_triton(cell, xp, state, lengths)  # one launch for all T; zero past each end
        if plain and self._scan[i]:
            return scan(cell, xp, state, lengths)  # zero past each end
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

    def _check_teacher(self, teacher: Tensor, T: int, B: int, like: Tensor) -> Tensor:
        cell = self.cells[0]
        if not cell.supports_teacher_forcing:
            raise ValueError(
                f"teacher forcing needs an output-recurrent cell (e.g. 'jordan'), not {type(cell).__name__}"
            )
        if self.num_layers != 1 or self.bidirectional:
            raise ValueError("teacher forcing needs a single-layer, unidirectional Recurrent")
        layout = f"(B, T, O) = ({B}, {T}, {cell.output_size})"
        if not self.batch_first:
            layout = f"(T, B, O) = ({T}, {B}, {cell.output_size})"
        if not isinstance(teacher, Tensor):
            raise ValueError(f"teacher must be a tensor of shape {layout}, got {type(teacher).__name__}")
        t = teacher.transpose(0, 1) if self.batch_first else teacher  # (T, B, O)
        if tuple(t.shape) != (T, B, cell.output_size):
            raise ValueError(f"teacher must have shape {layout}, got {tuple(teacher.shape)}")
        problem = state_mismatch((t,), like, what="teacher")
        if problem:
            raise ValueError(problem)
        return t

    # --- interchange with torch.nn (implemented in unrolled.layers.convert) ---------------------------------
    @classmethod
    def from_torch(cls, module: nn.Module, **kwargs: Any) -> Recurrent:
        """Build a Recurrent from a torch.nn.RNN / LSTM / GRU with the same weights (exact copy)."""
        return from_torch(cls, module, **kwargs)

    def to_torch(self) -> nn.Module:
        """The equivalent torch.nn.RNN / LSTM / GRU with the same weights (standard cells only)."""
        return to_torch(self)

    def state_to_torch(self, state: tuple) -> Tensor | tuple[Tensor, ...]:
        """Stack a Recurrent state into torch.nn's layout: h_n (L*D, B, H), or (h_n, c_n) for LSTM cells."""
        return state_to_torch(self, state)

    def state_from_torch(self, hx: Tensor | tuple[Tensor, ...]) -> tuple:
        """The inverse of :meth:`state_to_torch`."""
        return state_from_torch(self, hx)


def _flatten_after_load(module: Recurrent, incompatible_keys: Any) -> None:
    """``load_state_dict`` post-hook: ``copy_`` (the default) keeps the views, ``assign=True`` replaces them."""
    module.flatten_parameters()


def _tracing() -> bool:
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling()


def _flatten(state: Any) -> list[Tensor]:
    if isinstance(state, Tensor):
        return [state]
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _flatten(s)]
    raise ValueError(f"state parts must be tensors or tuples of tensors, got {type(state).__name__}")
