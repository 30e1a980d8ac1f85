r"""The Triton path: fused GPU kernels for the custom cells, the whole time loop in one launch.

For one direction of one layer, the input projection :math:`\mathrm{xp} = x W_{ih}^\top + b` is one product
over all T (``cell.project_input``, as on the scan path); then one kernel launch runs all T steps: each program
owns a block of ``BLOCK_B`` sequences of the batch and all H units, loads the recurrent weights once and keeps
them on chip across the steps, and fuses the recurrent product :math:`h_{t-1} W_{hh}^\top` with the step's
pointwise math (the persistent approach of FlashRNN, Pöppel et al. 2024). The backward is one launch walking
the steps backwards, writing :math:`\delta A_t`; the weight gradient
:math:`\sum_t \delta A_t^\top h_{t-1}` is then one product over all T, and :math:`\delta A` flows through
``project_input`` by autograd. Variable lengths are handled inside the kernels (the state is held and the
gradient passed through past each sequence's end), with the scan path's contract: zero outputs past each end,
each sequence's final state at its own last step, nothing past an end in any gradient.

Covered: :class:`~unrolled.cells.ElmanCell` (tanh, relu, sigmoid), :class:`~unrolled.cells.LeakyCell` (fixed
or learned time constants, tanh/relu/sigmoid), :class:`~unrolled.cells.GRUCell` with ``reset="before"`` and
:class:`~unrolled.cells.LayerNormLSTMCell`, :class:`~unrolled.cells.LayerNormGRUCell` (either reset) and
:class:`~unrolled.cells.LSTMCell` with peepholes, in float32,
while the weights fit on chip
(:data:`~unrolled.layers.triton.kernel.MAX_ON_CHIP_H`: H <= 64; at H = 128 the compiled kernels spill registers).
For Elman and leaky layers too large for the chip, streamed kernels read W and :math:`h_{t-1}` through the
program in tiles every step (correct at every H; not routed by :func:`triton_runs` until measured). Tested on the
CPU under Triton's interpreter (``TRITON_INTERPRET=1``) against the scan path; compiled for sm_90 without a GPU;
GPU speed is unmeasured.

Triton is optional: nothing here imports it until a kernel is launched (the ``*_jit`` modules), and
:func:`triton_runs` is False without Triton or without CUDA. Under ``torch.autocast`` the kernels run the recurrence
in float32 on the projected inputs cast from the autocast dtype (:mod:`unrolled.layers.precision`).

Modules: :mod:`~unrolled.layers.triton.kernel` (the host-side contract, launch helpers),
:mod:`~unrolled.layers.triton.function` (the autograd Function, :func:`run_triton`), one host module and one
``*_jit`` module per cell (``elman``, ``leaky``, ``gru``, ``layernorm``, ``layernorm_gru``, ``lstm``),
:mod:`~unrolled.layers.triton.jit_common` (device functions), :mod:`~unrolled.layers.triton.registry` and
:mod:`~unrolled.layers.triton.routing`.
"""

from unrolled.layers.triton.function import run_triton
from unrolled.layers.triton.kernel import TritonKernel, interpreting
from unrolled.layers.triton.registry import TRITON_KERNELS, triton_kernel
from unrolled.layers.triton.routing import triton_installed, triton_runs

__all__ = [
    "TRITON_KERNELS",
    "TritonKernel",
    "interpreting",
    "run_triton",
    "triton_installed",
    "triton_kernel",
    "triton_runs",
]
