r"""The recurrent layers' precision under ``torch.autocast``: one policy, :class:`AutocastPolicy`.

Under ``torch.autocast(device, dtype=torch.bfloat16)`` (or float16) every path of
:class:`~unrolled.layers.Recurrent` (torch's fused kernel, the scan and Triton kernels, the generic loop) follows
the same rule:

* **The recurrence runs in the parameters' dtype (float32), autocast off.** Everything inside the time loop:
  the per-step recurrent products :math:`W_{hh} h_{t-1}`, the gates, LayerNorm / BatchNorm, the state
  :math:`h_t` and the cell memory :math:`c_t`. Its inputs (the projected inputs, the initial state, masks,
  teacher values) are cast to that dtype at the path's entry. Rounding the state to bfloat16 at each step
  compounds over long T, and the hand-written scan and Triton kernels are written for one dtype.
* **What a custom path computes before its loop runs under autocast**: the input projection
  ``cell.project_input(x)`` for all T steps at once (one large product, the bulk of the parallel work) is cast
  by torch to the autocast dtype. torch's fused kernel computes its input projection inside the kernel, so a
  fused layer runs wholly in float32: torch's own autocast wrapper for cuDNN's RNN casts to *float16* whatever
  the autocast dtype (``_cudnn_rnn_cast_reflatten`` in ``aten/src/ATen/cudnn/AutocastRNN.cpp``), which under a
  bfloat16 autocast would give float16's range (overflow past 65504, gradient underflow without a
  ``GradScaler``), and oneDNN's bfloat16 LSTM on the CPU needs processor support.
* **Outputs are returned in the autocast dtype**, as ``torch.nn.LSTM`` returns reduced-precision outputs
  under autocast, ready for the next autocast product; **final states in the parameters' dtype**, so a state
  carried from chunk to chunk (truncated BPTT) keeps full precision and its dtype does not depend on the path.
* Gradients of the parameters have the parameters' dtype. The custom autograd Functions run their backward
  with autocast off too (what ``torch.amp.custom_bwd`` does; written out here because the Functions serve the
  CPU and CUDA devices and ``custom_fwd`` binds one device type), so on the scan and Triton paths a
  ``backward()`` called inside an autocast region computes the same gradients as one outside it. The loop's and
  torch's kernel's backward are autograd's, whose ops autocast when ``backward()`` runs inside the region
  (float32 gradients, within bfloat16 tolerance): call it outside, as torch advises.

Float64 parameters (which autocast never casts) and calls outside autocast are left untouched: the policy is
None and the paths run as they always do.

Example::

    >>> rnn = Recurrent("ln_lstm", 8, 16)          # scan path on the CPU, Triton on CUDA
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     y, (h, c) = rnn(torch.randn(4, 10, 8))
    >>> y.dtype, h.dtype, c.dtype
    (torch.bfloat16, torch.float32, torch.float32)
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from unrolled.cells.base import autocast_enabled


@dataclass(frozen=True)
class AutocastPolicy:
    """How one recurrent path runs under the autocast now enabled on ``device_type`` (see the module's docstring).

    Attributes:
        device_type: ``"cpu"`` or ``"cuda"``: the autocast this policy was resolved for.
        compute: dtype of the recurrence and of the final states (the parameters').
        output: dtype of the returned outputs (the autocast dtype).
    """

    device_type: str
    compute: torch.dtype
    output: torch.dtype

    def recurrence(self) -> contextlib.AbstractContextManager:
        """The context the recurrence runs in: autocast off on ``device_type``."""
        return torch.autocast(self.device_type, enabled=False)

    def to_compute(self, value: Any) -> Any:
        """``value`` with every floating-point tensor in it (in tuples, lists and dataclasses too) cast to
        :attr:`compute`; anything else (integer lengths, booleans masks, None) as it is."""
        if isinstance(value, Tensor):
            return value.to(self.compute) if value.is_floating_point() else value
        if isinstance(value, (tuple, list)):
            return type(value)(self.to_compute(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: self.to_compute(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return dataclasses.replace(value, **fields)
        return value

    def to_output(self, y: Tensor) -> Tensor:
        """The outputs (T, B, ·) in :attr:`output`."""
        return y.to(self.output)


def autocast_policy(device_type: str, compute: torch.dtype) -> AutocastPolicy | None:
    """The policy for a recurrence on ``device_type`` whose parameters have dtype ``compute``: None outside
    autocast and for float64 parameters (autocast leaves them alone)."""
    if compute == torch.float64 or not autocast_enabled(device_type):
        return None
    return AutocastPolicy(device_type, compute, torch.get_autocast_dtype(device_type))


def parameter_dtype(tensors: Iterable[Tensor]) -> torch.dtype:
    """The dtype of the first floating-point tensor of ``tensors`` (a module's parameters), else the default."""
    for t in tensors:
        if t.is_floating_point():
            return t.dtype
    return torch.get_default_dtype()


def autocast_off(device_type: str) -> contextlib.AbstractContextManager:
    """Autocast off on ``device_type`` if it is on (for the backward of a custom autograd Function, whatever
    the autocast of the thread that calls ``backward()``); a no-op context otherwise."""
    if autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


F = TypeVar("F", bound=Callable[..., tuple])


def float_recurrence(fn: F) -> F:
    """Make a path's entry point ``fn(cell, xp, state, *rest, **options) -> (y, state, *more)`` follow the policy:
    under autocast it runs with autocast off on ``xp``'s device, on ``xp``, ``state``, ``rest`` and ``options``
    cast to the cell's parameter dtype, and returns ``y`` in the autocast dtype (``state`` and ``more`` in the
    parameters'). Outside autocast it is ``fn`` itself."""

    @functools.wraps(fn)
    def run(cell: nn.Module, xp: Tensor, state: Any, *rest: Any, **options: Any) -> tuple:
        if not isinstance(xp, Tensor) or not autocast_enabled(xp.device.type):  # the common case, decided first
            return fn(cell, xp, state, *rest, **options)
        policy = autocast_policy(xp.device.type, parameter_dtype(cell.parameters()))
        if policy is None:
            return fn(cell, xp, state, *rest, **options)
        with policy.recurrence():
            args = policy.to_compute((xp, state, *rest))
            y, *more = fn(cell, *args, **{k: policy.to_compute(v) for k, v in options.items()})
        return (policy.to_output(y), *more)

    return run  # type: ignore[return-value]
