"""The reservoir of an echo state network (Jaeger 2001): a fixed random recurrence of leaky-integrator tanh units."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from unrolled.reservoir.compiled_loop import ReservoirLoop

__all__ = ["Reservoir", "ReservoirConfig", "scale_to_spectral_radius", "spectral_radius"]


def _number(name: str, value: object, lo: float, hi: float | None = None, lo_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (hi is None or value <= hi)
    if not ok:
        bound = f"{'>' if lo_open else '>='} {lo}" + ("" if hi is None else f" and <= {hi}")
        raise ValueError(f"reservoir: expected {name} to be a number {bound}, got {value!r}")


@dataclass
class ReservoirConfig:
    """The reservoir's hyperparameters (checked when built).

    Args:
        units: reservoir size N.
        input_size: input features I.
        spectral_radius: the largest eigenvalue modulus :math:`\\rho` that ``W`` is scaled to (echo state property
            for leaky units needs the effective radius of :math:`(1-a) I + a W` below 1; Jaeger 2001, Lukoševičius
            2012 §3.2.4).
        density: the fraction of nonzero recurrent weights (sparse ``W``).
        input_scaling: ``W_in`` is drawn from :math:`U[-s, s]`; a number or one per input feature.
        bias_scaling: the bias is drawn from :math:`U[-s, s]`.
        leak_rate: :math:`a \\in (0, 1]` of the leaky-integrator units; a number or one per unit (N values).
        feedback_size: O, the width of fed-back outputs (0: no output feedback).
        feedback_scaling: ``W_fb`` is drawn from :math:`U[-s, s]`.
        input_density: the fraction of nonzero input weights.
        seed: seeds every random matrix.
    """

    units: int = 100
    input_size: int = 1
    spectral_radius: float = 0.9
    density: float = 0.1
    input_scaling: float | Sequence[float] = 1.0
    bias_scaling: float = 0.0
    leak_rate: float | Sequence[float] = 1.0
    feedback_size: int = 0
    feedback_scaling: float = 1.0
    input_density: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("units", "input_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"reservoir: expected {name} to be an int >= 1, got {v!r}")
        if isinstance(self.feedback_size, bool) or not isinstance(self.feedback_size, int) or self.feedback_size < 0:
            raise ValueError(f"reservoir: expected feedback_size to be an int >= 0, got {self.feedback_size!r}")
        _number("spectral_radius", self.spectral_radius, 0.0)
        _number("density", self.density, 0.0, 1.0, lo_open=True)
        _number("input_density", self.input_density, 0.0, 1.0, lo_open=True)
        _number("bias_scaling", self.bias_scaling, 0.0)
        _number("feedback_scaling", self.feedback_scaling, 0.0)
        scal = self.input_scaling
        if isinstance(scal, (int, float)):
            _number("input_scaling", scal, 0.0)
        elif len(scal) != self.input_size or any(not isinstance(s, (int, float)) or s < 0 for s in scal):
            raise ValueError(
                f"reservoir: expected input_scaling to be a number >= 0 or {self.input_size} of them, got {scal!r}"
            )
        leak = self.leak_rate
        if isinstance(leak, (int, float)):
            _number("leak_rate", leak, 0.0, 1.0, lo_open=True)
        elif len(leak) != self.units or any(not isinstance(a, (int, float)) or not 0 < a <= 1 for a in leak):
            raise ValueError(
                f"reservoir: expected leak_rate to be a number in (0, 1] or {self.units} of them, got {leak!r}"
            )


def spectral_radius(W: Tensor) -> float:
    """The largest modulus of the eigenvalues of the square matrix ``W`` (computed in float64)."""
    return float(torch.linalg.eigvals(W.detach().to(torch.float64).cpu()).abs().max())


def scale_to_spectral_radius(W: Tensor, radius: float) -> Tensor:
    """``W`` rescaled so that its spectral radius is ``radius`` (a zero matrix stays zero)."""
    current = spectral_radius(W)
    if current == 0.0:
        return W.clone()
    return W * (radius / current)


class Reservoir(nn.Module):
    r"""A reservoir of leaky-integrator tanh units (Jaeger 2001; Jaeger et al. 2007) with fixed random weights.

    .. math::
        \tilde x_t &= \tanh(W_{in} u_t + W x_{t-1} + W_{fb} y_{t-1} + b) \\
        x_t &= (1 - a) \odot x_{t-1} + a \odot \tilde x_t

    ``W`` (N, N) is sparse with ``density`` nonzeros drawn from :math:`U[-1, 1]` and scaled to the requested
    spectral radius; ``W_in`` (N, I), ``b`` (N,) and ``W_fb`` (N, O) are drawn uniformly and scaled. :math:`a` is
    the leak rate (a number, or one per unit). Nothing is trained: the weights are buffers, and a readout on the
    states does the learning (:mod:`unrolled.reservoir.readout`).

    The update runs as one batched recurrence over all B sequences: the input projection (and, with teacher
    feedback, the fed-back outputs) for every step in one product, then one (B, N) x (N, N) product per step. On
    the CPU without gradients, for one sequence or a small B N^2, the steps run in one compiled call
    (:class:`~unrolled.reservoir.compiled_loop.ReservoirLoop`: numba, W in CSR form when sparse, each row's dot
    product, tanh and leak fused; without numba a numpy loop on a preallocated buffer,
    :func:`~unrolled.reservoir.cpu_loop.leaky_tanh_loop`), with no per-step tensors; otherwise (GPU, large
    batches, or an input that requires grad) as torch operations.

    Args:
        config: a :class:`ReservoirConfig` (or its fields as keyword arguments).

    Shape:
        B batch, T time, I input features, N units, O fed-back outputs.

        - input: (B, T, I).
        - feedback: (B, T, O), the outputs :math:`y_t` (the teacher during training); step t receives
          :math:`y_{t-1}`, and the first step ``feedback0`` (B, O) (zeros if not given, e.g. to continue a stream).
        - state: (B, N), :math:`x_0` (zeros if not given).
        - output: states (B, T, N) and the last state (B, N).

    Example::

        >>> res = Reservoir(ReservoirConfig(units=50, input_size=2, spectral_radius=0.9, seed=0))
        >>> states, last = res(torch.randn(4, 30, 2))
        >>> states.shape
        torch.Size([4, 30, 50])
    """

    def __init__(self, config: ReservoirConfig | None = None, **kwargs: object):
        super().__init__()
        if config is None:
            config = ReservoirConfig(**kwargs)  # type: ignore[arg-type]
        elif kwargs:
            raise ValueError(f"reservoir: give a config or keyword arguments, not both (got {sorted(kwargs)})")
        self.config = c = config
        g = torch.Generator().manual_seed(c.seed)
        N, I = c.units, c.input_size
        W = (torch.rand(N, N, generator=g, dtype=torch.float64) * 2 - 1) * (
            torch.rand(N, N, generator=g, dtype=torch.float64) < c.density
        )
        W = scale_to_spectral_radius(W, c.spectral_radius)
        scal = torch.as_tensor(c.input_scaling, dtype=torch.float64).expand(I)
        W_in = (torch.rand(N, I, generator=g, dtype=torch.float64) * 2 - 1) * scal  # (N, I)
        if c.input_density < 1.0:
            W_in = W_in * (torch.rand(N, I, generator=g, dtype=torch.float64) < c.input_density)
        b = (torch.rand(N, generator=g, dtype=torch.float64) * 2 - 1) * c.bias_scaling
        leak = torch.as_tensor(c.leak_rate, dtype=torch.float64).expand(N).clone()
        dtype = torch.get_default_dtype()
        self.register_buffer("weight_hh", W.to(dtype))  # W (N, N)
        self.register_buffer("weight_ih", W_in.to(dtype))  # W_in (N, I)
        self.register_buffer("bias", b.to(dtype))  # b (N,)
        self.register_buffer("leak_rate", leak.to(dtype))  # a (N,)
        if c.feedback_size > 0:
            W_fb = (torch.rand(N, c.feedback_size, generator=g, dtype=torch.float64) * 2 - 1) * c.feedback_scaling
            self.register_buffer("weight_fb", W_fb.to(dtype))  # W_fb (N, O)
        else:
            self.weight_fb = None
        self._loop_cache: tuple[Tensor, int, ReservoirLoop] | None = None  # (weight_hh, its version, its loop)

    @property
    def units(self) -> int:
        return self.config.units

    def loop(self) -> ReservoirLoop:
        """The CPU loop for the current ``weight_hh`` (:class:`~unrolled.reservoir.compiled_loop.ReservoirLoop`:
        the compiled kernel, with W in CSR form when sparse, or the numpy loop). Built once and kept while
        ``weight_hh`` is the same tensor at the same version (an in-place change, ``load_state_dict`` or ``.to()``
        builds a new one); CPU float32/64 weights only."""
        W = self.weight_hh
        cached = self.__dict__.get("_loop_cache")
        if cached is None or cached[0] is not W or cached[1] != W._version:
            cached = (W, W._version, ReservoirLoop(W.detach().numpy()))  # holding W keeps its address unique
            self._loop_cache = cached
        return cached[2]

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["_loop_cache"] = None  # rebuilt on first use (it holds compiled functions)
        return state

    def _check(self, input: Tensor, feedback: Tensor | None, state: Tensor | None) -> None:
        if not isinstance(input, Tensor) or input.dim() != 3 or input.shape[-1] != self.config.input_size:
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"reservoir expected input (B, T, I={self.config.input_size}), got {shape}")
        if input.shape[1] == 0:
            raise ValueError("reservoir got an empty sequence (T = 0); expected at least one time step")
        if not torch.isfinite(input).all():
            raise ValueError("reservoir got NaN or infinite values in its input; fill gaps first (e.g. impute)")
        B, T = input.shape[:2]
        O = self.config.feedback_size
        if O > 0 and feedback is not None and tuple(feedback.shape) != (B, T, O):
            raise ValueError(f"reservoir expected feedback of shape (B, T, O)={(B, T, O)}, got {tuple(feedback.shape)}")
        if O == 0 and feedback is not None:
            raise ValueError("reservoir got feedback but was built with feedback_size=0")
        if state is not None and tuple(state.shape) != (B, self.config.units):
            raise ValueError(f"reservoir expected a state (B, N)={(B, self.config.units)}, got {tuple(state.shape)}")

    def drive(self, input: Tensor) -> Tensor:
        """The input part of the pre-activation for all steps: :math:`W_{in} u_t + b`, (B, T, I) -> (B, T, N)."""
        return torch.addmm(self.bias, input.reshape(-1, input.shape[-1]), self.weight_ih.t()).reshape(
            *input.shape[:2], -1
        )  # (B, T, N)

    def teacher_drive(self, input: Tensor, feedback: Tensor | None = None, feedback0: Tensor | None = None) -> Tensor:
        """:meth:`drive` plus, with teacher ``feedback`` (B, T, O), :math:`W_{fb} y_{t-1}` for every step (y_0 =
        ``feedback0`` (B, O), or zeros): everything in the pre-activation but :math:`W x_{t-1}`. (B, T, N)."""
        drive = self.drive(input)  # (B, T, N)
        if feedback is not None:  # y_{t-1}: feedback0 (or zeros) before the first step; known, so in the drive
            B = input.shape[0]
            first = feedback.new_zeros(B, 1, feedback.shape[-1]) if feedback0 is None else feedback0.unsqueeze(1)
            prev = torch.cat([first, feedback[:, :-1]], dim=1)  # (B, T, O)
            drive = drive + prev @ self.weight_fb.t()  # (B, T, N)
        return drive

    def step(self, drive_t: Tensor, state: Tensor, feedback_t: Tensor | None = None) -> Tensor:
        """One update from the precomputed drive :math:`W_{in} u_t + b` (B, N) and :math:`x_{t-1}` (B, N)."""
        pre = torch.addmm(drive_t, state, self.weight_hh.t())  # (B, N)
        if feedback_t is not None and self.weight_fb is not None:
            pre = torch.addmm(pre, feedback_t, self.weight_fb.t())  # (B, N)
        return torch.lerp(state, torch.tanh(pre), self.leak_rate)  # (1 - a) x + a tanh(.)

    def _fast(self, batch: int, *tensors: Tensor | None) -> bool:
        """Whether the CPU loop (:meth:`loop`) runs: CPU, float32/64, nothing needing gradients, and a
        per-step product small enough for one BLAS thread (one sequence, or B N^2 < 2^20), where the per-operation
        overhead of torch dominates; multithreaded BLAS products inside a Python loop were measured many times
        slower on a loaded machine (threads waiting for each other at every step)."""
        dtype = self.weight_hh.dtype
        return (
            (batch == 1 or batch * self.config.units**2 < 2**20)
            and self.weight_hh.device.type == "cpu"
            and dtype in (torch.float32, torch.float64)
            and all(t is None or (t.device.type == "cpu" and t.dtype == dtype) for t in tensors)
            and not (torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors))
        )

    def forward(
        self,
        input: Tensor,
        state: Tensor | None = None,
        feedback: Tensor | None = None,
        feedback0: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        self._check(input, feedback, state)
        B, T = input.shape[:2]
        drive = self.teacher_drive(input, feedback, feedback0)  # (B, T, N)
        x = input.new_zeros(B, self.config.units) if state is None else state  # (B, N)
        if self._fast(B, input, state, feedback, feedback0):
            with torch.no_grad():
                d = drive.detach().transpose(0, 1).contiguous().numpy()  # (T, B, N)
                x0 = x.detach().contiguous().numpy()  # (B, N)
                out = torch.from_numpy(self.loop()(d, self.leak_rate.numpy(), x0)).transpose(0, 1)  # (B, T, N)
            return out.contiguous(), out[:, -1].clone()  # a copy only when B > 1
        out = input.new_empty(B, T, self.config.units)  # (B, T, N)
        for t in range(T):
            x = self.step(drive[:, t], x)
            out[:, t] = x
        return out, x
