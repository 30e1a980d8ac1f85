r"""The scan path: one direction of one layer as one autograd Function with a hand-written BPTT backward.

Backpropagation through time written out (Werbos 1990; Goodfellow et al., *Deep Learning* §10.2.2). A cell's
step is split into a recurrent product and pointwise math,

.. math::
    A_t = \mathrm{xp}_t + h_{t-1} W_{hh}^\top, \qquad (h_t, s_t) = \mathrm{pointwise}(A_t, h_{t-1}, s_{t-1}),

and the gradient flows backwards as

.. math::
    \delta A_t = \frac{\partial \mathrm{pointwise}}{\partial A_t}^{\!\top} (\bar h_t, \bar s_t), \qquad
    \bar h_{t-1} = \frac{\partial L}{\partial y_{t-1}} + \delta A_t W_{hh} + (\text{direct terms}), \qquad
    \frac{\partial L}{\partial W_{hh}} = \sum_t \delta A_t^\top h_{t-1}.

* Forward, per step: one fused ``addmm`` for all recurrent gates and the cell's pointwise math, written
  into preallocated buffers. With gradients on it keeps only what the backward needs (activated gates,
  cell states) and the projected inputs; with gradients off it runs the same loop on one reused scratch step
  and keeps nothing.
* Backward: the factors of each pointwise derivative that do not depend on the incoming gradient are
  computed for all steps at once before the loop; the loop does a handful of multiplies and the one
  product :math:`\delta A_t W_{hh}` per step; :math:`\partial L/\partial W_{hh}` is one large product after
  the loop.
* The gradient w.r.t. the projected inputs ``xp`` is returned, so autograd carries it through
  ``cell.project_input`` (input weights, input biases, input LayerNorm, ``dx``): the path stays generic.
* Double backward (``create_graph=True``, e.g. gradient penalties): the backward then recomputes the forward
  from the saved inputs as a differentiable loop over ``cell.step`` and returns autograd's gradient of it,
  which is differentiable again. It costs a forward and an autograd backward of the generic loop. Only it
  reads the projected inputs: forwards run inside ``double_backward(False)``
  (:func:`~unrolled.layers.scan.double_backward`; the task runner trains so) do not keep them, T·B·G floats
  saved less per call, and a ``create_graph`` backward of such a forward raises
  :class:`~unrolled.layers.scan.DoubleBackwardNotPrepared`.

Each supported cell supplies a :class:`ScanKernel` (its pointwise forward and backward), resolved once
through the registry :data:`SCAN_KERNELS`. Covered: :class:`~unrolled.cells.LSTMCell` (plain and peephole,
no projection), :class:`~unrolled.cells.ElmanCell` (every nonlinearity), :class:`~unrolled.cells.GRUCell`
(both resets), :class:`~unrolled.cells.LeakyCell` (fixed or learned time constants),
:class:`~unrolled.cells.LayerNormLSTMCell` and :class:`~unrolled.cells.LayerNormGRUCell` (both resets).
Others (e.g. Jordan) stay on the generic loop.

Variable lengths: every sequence is run over all T steps, the final state of sequence b is taken at its own
last step ``lengths[b] - 1``, and the backward injects the final-state gradient there. After the forward loop
the outputs and every saved buffer are zeroed past each sequence's end, and the output gradient is ignored
there, so what the padded steps compute (inf after long padding with exploding weights, NaN from NaN padded
inputs) never reaches a result or a gradient: the gradients equal those of each sequence run alone.

Modules: :mod:`~unrolled.layers.scan.function` (the Function, :func:`scan`), :mod:`~unrolled.layers.scan.double`
(:func:`double_backward`), :mod:`~unrolled.layers.scan.kernel`
(the kernel contract and shared helpers), one module per cell family (``elman``, ``lstm``, ``gru``, ``leaky``,
``layernorm``; ``layernorm_compiled``: the layer-norm LSTM with one numba call per step, chosen on CPU for
float32/float64 when numba imports, its kernels in ``layernorm_numba`` and ``numba_math``),
:mod:`~unrolled.layers.scan.registry` and :mod:`~unrolled.layers.scan.routing` (when
``backend="auto"`` prefers the scan path to torch's fused kernel).
"""

from unrolled.layers.scan.double import DoubleBackwardNotPrepared, double_backward
from unrolled.layers.scan.function import _ScanFunction as _ScanFunction  # private, for the tests
from unrolled.layers.scan.function import capture_of, scan
from unrolled.layers.scan.kernel import ScanKernel
from unrolled.layers.scan.registry import SCAN_KERNELS, scan_kernel, supports_scan
from unrolled.layers.scan.routing import SCAN_BEATS_FUSED_ON_CPU, prefer_scan_over_fused

__all__ = [
    "DoubleBackwardNotPrepared",
    "SCAN_BEATS_FUSED_ON_CPU",
    "SCAN_KERNELS",
    "ScanKernel",
    "double_backward",
    "prefer_scan_over_fused",
    "scan",
    "capture_of",
    "scan_kernel",
    "supports_scan",
]
