"""The cell contract every recurrent cell in unrolled follows.

A *cell* computes one time step. Every cell offers

* ``forward(x_t, state) -> (y_t, new_state)``: one step on an input of shape (B, I);
* ``init_state(batch, device=None, dtype=None) -> state``: the zero state;
* ``project_input(x) -> xp`` and ``step(xp_t, state) -> (y_t, new_state)``: the same step split in two so that a
  layer can hoist the part that does not depend on the state (the input projection, one large matrix product
  over all time steps) out of the time loop. ``forward(x_t, s) == step(project_input(x_t), s)`` always holds; the
  default ``project_input`` is the identity, so a cell that only writes ``forward`` still works in every layer;
* ``step_with_dropout(xp_t, state, mask) -> (y_t, new_state)``: the step under variational recurrent dropout
  (Gal & Ghahramani 2016): ``mask`` (B, O) multiplies the fed-back value only where it enters a recurrent
  matrix product. The default (mask ``h``, then ``step``) is right for every cell that reads ``h_{t-1}`` only
  through its recurrent products; a cell that also reads it elsewhere (GRU, leaky: an interpolation with
  ``h_{t-1}``) overrides it.

A state is a tensor ``h`` of shape (B, H) or a tuple of tensors whose first element is ``h``-like (the part
that recurrent dropout masks). Dimension symbols used library-wide: B batch, T time, I input features,
H hidden units, P projection size, G projected-input (gate) width.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

State = Tensor | tuple[Tensor, ...]


class RecurrentCell(nn.Module):
    """Base class of all cells. Subclasses set ``input_size``, ``hidden_size`` and ``output_size``.

    Subclasses record their constructor arguments with :meth:`_remember` so that :meth:`spawn` can build a
    fresh cell of the same kind with another input size (a layer stack needs one per layer and direction).
    """

    input_size: int
    hidden_size: int
    output_size: int
    #: width G of ``project_input``'s result (gate pre-activations); equals input_size when not hoisted.
    projected_size: int
    #: True when the cell can take the fed-back value from outside (teacher forcing), see ``force``.
    supports_teacher_forcing: bool = False

    def _remember(self, **kwargs: Any) -> None:
        self._init_kwargs = dict(kwargs)

    def spawn(self, input_size: int) -> RecurrentCell:
        """A new, freshly initialised cell of the same kind and options with ``input_size`` inputs."""
        kwargs = dict(getattr(self, "_init_kwargs", {}))
        kwargs["input_size"] = input_size
        return type(self)(**kwargs)

    def extra_repr(self) -> str:
        kw = getattr(self, "_init_kwargs", {})
        return ", ".join(f"{k}={v!r}" for k, v in kw.items())

    # --- the contract -------------------------------------------------------------------------------------
    def init_state(
        self, batch: int, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> State:
        raise NotImplementedError

    def project_input(self, x: Tensor) -> Tensor:
        """Everything that depends on the input only; works on (B, I) or (T, B, I). Default: identity."""
        return x

    def step(self, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step from an already projected input ``xp_t`` (B, G)."""
        return self.forward(xp_t, state)

    def step_with_dropout(self, xp_t: Tensor, state: State, mask: Tensor) -> tuple[Tensor, State]:
        r"""One step under variational recurrent dropout (Gal & Ghahramani 2016, §4): ``mask`` (B, O), entries 0
        or 1/(1-p), multiplies the previous ``h`` only where it enters a recurrent matrix product; every other
        use of the previous state (an interpolation with :math:`h_{t-1}`, the LSTM memory :math:`c`) reads it
        unmasked, so evaluation (no mask) and training agree in expectation.

        This default masks the ``h``-like part of the state and calls :meth:`step`: exact for cells whose
        :math:`h_{t-1}` enters only recurrent products (Elman :math:`W h`, LSTM and layer-norm LSTM
        :math:`W_{hh} h`, with :math:`c` untouched, Jordan :math:`W y`). GRU, layer-norm GRU and leaky cells
        override it.
        """
        return self.step(xp_t, replace_hidden(state, state_hidden(state) * mask))

    def forward(self, x_t: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        self.check_input(x_t)
        if state is None:
            state = self.init_state(x_t.shape[0], x_t.device, x_t.dtype)
        else:
            self.check_state(state, x_t.shape[0], like=x_t)
        return self.step(self.project_input(x_t), state)

    def force(self, state: State, y_prev: Tensor) -> State:
        """Replace the fed-back value in ``state`` by ``y_prev`` (teacher forcing). Only output-recurrent cells."""
        raise TypeError(f"{type(self).__name__} has no output recurrence; teacher forcing needs e.g. JordanCell")

    # --- helpers shared by the cells ----------------------------------------------------------------------
    def _zeros(self, batch: int, size: int, device, dtype) -> Tensor:
        ref = next(self.parameters(), None)
        if device is None:
            device = ref.device if ref is not None else None
        if dtype is None:
            dtype = ref.dtype if ref is not None else torch.get_default_dtype()
        return torch.zeros(batch, size, device=device, dtype=dtype)

    def _uniform_(self, bound_size: int | None = None) -> None:
        """torch.nn.RNN's initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
        k = 1.0 / math.sqrt(bound_size or self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def check_input(self, x_t: Tensor) -> None:
        if not isinstance(x_t, Tensor) or x_t.dim() != 2 or x_t.shape[-1] != self.input_size:
            got = tuple(x_t.shape) if isinstance(x_t, Tensor) else type(x_t).__name__
            raise ValueError(f"{type(self).__name__}: expected input of shape (B, {self.input_size}), got {got}")

    def check_state(self, state: State, batch: int, like: Tensor | None = None) -> None:
        """Raise a one-line ValueError unless ``state`` has the structure and shapes of ``init_state(batch)`` (and,
        given ``like``, the dtype and device of ``like``, the input)."""
        zero = self.init_state(batch, device="meta")
        want = [tuple(zero.shape)] if isinstance(zero, Tensor) else [tuple(t.shape) for t in zero]
        if isinstance(state, Tensor):
            got = [tuple(state.shape)]
        elif isinstance(state, (tuple, list)) and all(isinstance(t, Tensor) for t in state):
            got = [tuple(t.shape) for t in state]
        else:
            got = type(state).__name__
        if got != want:
            what = "a tensor" if isinstance(zero, Tensor) else f"a tuple of {len(want)} tensors"
            raise ValueError(f"{type(self).__name__}: expected state as {what} of shapes {want}, got {got}")
        if like is not None:
            problem = state_mismatch((state,) if isinstance(state, Tensor) else state, like)
            if problem:
                raise ValueError(f"{type(self).__name__}: {problem}")


def state_mismatch(parts, like: Tensor, what: str = "state") -> str | None:
    """Why the tensors ``parts`` (of a state, or ``what``) cannot meet the input ``like``: on another device, or of
    another dtype outside autocast (which mixes dtypes on purpose). None when they can."""
    for t in parts:
        if t.device != like.device:
            return f"expected {what} on device {like.device} (the input's), got {t.device}"
        if t.dtype != like.dtype and not autocast_enabled(like.device.type):
            return f"expected {what} of dtype {like.dtype} (the input's), got {t.dtype}"
    return None


def autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except RuntimeError:  # a device type autocast does not know (e.g. meta)
        return False


def state_hidden(state: State) -> Tensor:
    """The ``h``-like part of a state (what recurrent dropout masks and what a layer outputs)."""
    return state if isinstance(state, Tensor) else state[0]


def replace_hidden(state: State, h: Tensor) -> State:
    return h if isinstance(state, Tensor) else (h, *state[1:])


def check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
