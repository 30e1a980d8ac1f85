"""Echo state network: a reservoir and a linear readout, trained in closed form (or online, FORCE)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.reservoir.overlapped_fit import can_overlap, overlapped_ridge_fit
from unrolled.reservoir.readout import RidgeReadout, RLSReadout
from unrolled.reservoir.reservoir import Reservoir, ReservoirConfig

__all__ = ["ESN"]


class ESN(nn.Module):
    r"""An echo state network (Jaeger 2001): a fixed :class:`Reservoir` and a trained linear readout.

    .. math::
        x_t = (1 - a) x_{t-1} + a \tanh(W_{in} u_t + W x_{t-1} + W_{fb} y_{t-1} + b), \qquad
        \hat y_t = W_{out} [x_t; u_t] + c

    (:math:`u_t` in the readout only with ``readout_input=True``). Training is teacher-forced: the reservoir is
    driven by the inputs (and, with output feedback, by the true previous outputs), the first ``washout`` states of
    every sequence are dropped (they still remember the arbitrary initial state), and :math:`W_{out}` is the ridge
    solution on the remaining states (Lukoševičius 2012, §4). :meth:`fit_force` trains the readout online by
    recursive least squares while the network runs on its own fed-back outputs (FORCE, Sussillo & Abbott 2009).
    Without feedback a trained ESN is run in one batched pass; with feedback, or in :meth:`generate` (outputs
    become the next inputs), it runs step by step on its own predictions.

    Args:
        reservoir: a :class:`ReservoirConfig` (feedback_size O or 0).
        output_size: O, the outputs of the readout.
        ridge: the ridge penalty :math:`\lambda`.
        washout: the states dropped at the start of each training sequence.
        readout_input: also feed :math:`u_t` to the readout.
        overlap: in :meth:`fit`, sum the ridge normal equations on a second core while the reservoir runs
            (:func:`~unrolled.reservoir.overlapped_fit.overlapped_ridge_fit`), where it helps: CPU, no autograd,
            one or a few sequences, at least two cores, threadpoolctl installed. The same solution up to the order
            of float64 sums; ``False`` always runs the loop, then the fit.

    Shape:
        B batch, T time, I input features, N units, O outputs.

        - input: (B, T, I); targets: (B, T, O).
        - output: predictions (B, T, O) and the last reservoir state (B, N).

    Example::

        >>> esn = ESN(ReservoirConfig(units=100, input_size=1, seed=0), output_size=1, ridge=1e-6, washout=20)
        >>> t = torch.arange(400.0).reshape(1, -1, 1)
        >>> u = torch.sin(t / 8)
        >>> _ = esn.fit(u[:, :-1], u[:, 1:])  # one-step-ahead prediction
        >>> y, state = esn(u[:, :-1])
        >>> y.shape
        torch.Size([1, 399, 1])
    """

    def __init__(
        self,
        reservoir: ReservoirConfig,
        output_size: int,
        ridge: float = 1e-6,
        washout: int = 0,
        readout_input: bool = False,
        overlap: bool = True,
    ):
        super().__init__()
        if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size < 1:
            raise ValueError(f"ESN: expected output_size to be an int >= 1, got {output_size!r}")
        if isinstance(washout, bool) or not isinstance(washout, int) or washout < 0:
            raise ValueError(f"ESN: expected washout to be an int >= 0, got {washout!r}")
        if reservoir.feedback_size not in (0, output_size):
            raise ValueError(
                f"ESN: expected reservoir.feedback_size to be 0 or output_size={output_size}, got "
                f"{reservoir.feedback_size}"
            )
        self.reservoir = Reservoir(reservoir)
        self.output_size, self.washout, self.readout_input = output_size, washout, readout_input
        self.overlap = overlap
        features = reservoir.units + (reservoir.input_size if readout_input else 0)
        self.readout = RidgeReadout(features, output_size, ridge=ridge)

    @property
    def feedback(self) -> bool:
        return self.reservoir.config.feedback_size > 0

    def _features(self, states: Tensor, input: Tensor) -> Tensor:
        return torch.cat([states, input], dim=-1) if self.readout_input else states  # (B, T, F)

    def _check_targets(self, input: Tensor, targets: Tensor) -> None:
        if not isinstance(targets, Tensor) or targets.dim() != 3 or targets.shape[:2] != input.shape[:2]:
            got = tuple(targets.shape) if isinstance(targets, Tensor) else type(targets).__name__
            raise ValueError(f"ESN expected targets (B, T, O) matching input's (B, T), got {got}")
        if targets.shape[-1] != self.output_size:
            raise ValueError(f"ESN expected {self.output_size} target features (O), got {targets.shape[-1]}")
        if not torch.isfinite(targets).all():
            raise ValueError("ESN got NaN or infinite values in its targets; fill gaps first (e.g. impute)")
        if input.shape[1] <= self.washout:
            raise ValueError(f"ESN expected sequences longer than washout={self.washout}, got T={input.shape[1]}")

    def collect(self, input: Tensor, targets: Tensor | None = None, state: Tensor | None = None) -> Tensor:
        """The teacher-forced readout features (B, T, F) for input (B, T, I) (and targets fed back)."""
        states, _ = self.reservoir(input, state=state, feedback=targets if self.feedback else None)  # (B, T, N)
        return self._features(states, input)  # (B, T, F)

    @torch.no_grad()
    def fit(self, input: Tensor, targets: Tensor, state: Tensor | None = None) -> ESN:
        """Teacher-forced ridge training on input (B, T, I) and targets (B, T, O), after the washout."""
        self._check_targets(input, targets)
        fb = targets if self.feedback else None
        ridge = self.readout.ridge
        if (
            self.overlap
            and isinstance(ridge, (int, float))
            and not isinstance(ridge, bool)
            and ridge >= 0
            and can_overlap(self.reservoir, input, targets, state, washout=self.washout)
        ):
            r = self.readout
            fitted = overlapped_ridge_fit(
                self.reservoir, input, targets, self.washout, ridge, r.has_bias, self.readout_input, state, fb
            )
            if fitted is not None:  # else (singular or overflowing normal equations) the one-shot fit below
                r.weight.copy_(fitted[0])
                r.bias.copy_(fitted[1] if fitted[1] is not None else torch.zeros_like(r.bias))
                return self
        feats = self.collect(input, targets, state)[:, self.washout :]  # (B, T - washout, F)
        self.readout.fit(feats, targets[:, self.washout :])
        return self

    @torch.no_grad()
    def fit_force(self, input: Tensor, targets: Tensor, alpha: float = 1.0) -> ESN:
        """FORCE learning (Sussillo & Abbott 2009): run on the network's own fed-back output while an RLS readout
        (:class:`RLSReadout`, :math:`P_0 = I/\\alpha`) is updated at every step after the washout. B = 1."""
        self._check_targets(input, targets)
        if input.shape[0] != 1:
            raise ValueError(f"ESN.fit_force expected one sequence (B = 1), got B={input.shape[0]}")
        rls = RLSReadout(self.readout.in_features, self.output_size, alpha=alpha).to(input.device)
        res = self.reservoir
        drive = res.drive(input)  # (1, T, N)
        x = input.new_zeros(1, res.units)  # (1, N)
        y = input.new_zeros(1, self.output_size)  # (1, O)
        for t in range(input.shape[1]):
            x = res.step(drive[:, t], x, y if self.feedback else None)  # (1, N)
            f = self._features(x, input[:, t])[0]  # (F,)
            if t >= self.washout:
                rls.update(f, targets[0, t])
            y = rls(f).unsqueeze(0)  # (1, O), the output after the update (fed back)
        self.readout.weight.copy_(rls.weight)
        self.readout.bias.copy_(rls.bias)
        return self

    @torch.no_grad()
    def forward(
        self,
        input: Tensor,
        state: Tensor | None = None,
        feedback: Tensor | None = None,
        feedback0: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Predictions (B, T, O) for input (B, T, I); with output feedback and no teacher ``feedback`` (B, T, O),
        the network's own previous prediction is fed back, starting from ``feedback0`` (B, O) (zeros if not given;
        pass the last true output with the carried ``state`` to continue a stream)."""
        if not self.feedback or feedback is not None:
            states, last = self.reservoir(input, state=state, feedback=feedback, feedback0=feedback0)  # (B, T, N)
            return self.readout(self._features(states, input)), last  # (B, T, O)
        res = self.reservoir
        res._check(input, None, state)
        B, T = input.shape[:2]
        drive = res.drive(input)  # (B, T, N)
        x = input.new_zeros(B, res.units) if state is None else state  # (B, N)
        y = input.new_zeros(B, self.output_size) if feedback0 is None else feedback0  # (B, O)
        out = input.new_empty(B, T, self.output_size)  # (B, T, O)
        for t in range(T):
            x = res.step(drive[:, t], x, y)
            y = self.readout(self._features(x, input[:, t]))  # (B, O)
            out[:, t] = y
        return out, x

    @torch.no_grad()
    def generate(self, warmup: Tensor, n_steps: int, state: Tensor | None = None) -> Tensor:
        """Free-running generation: drive the reservoir with ``warmup`` (B, T0, I) from ``state`` (B, N) (zeros if
        not given), then for ``n_steps`` feed each prediction back as the next input (needs O = I; trained for
        one-step-ahead prediction). Returns (B, n, O).
        """
        if self.output_size != self.reservoir.config.input_size:
            raise ValueError(
                f"ESN.generate needs output_size == input_size to feed predictions back, got {self.output_size} "
                f"and {self.reservoir.config.input_size}"
            )
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"ESN.generate expected n_steps to be an int >= 1, got {n_steps!r}")
        if self.feedback:  # teacher forcing: the output at t-1 (the one-step target) is the input at t
            teacher = torch.cat([warmup[:, 1:], warmup[:, -1:]], dim=1)
            states, x = self.reservoir(warmup, state=state, feedback=teacher)
        else:
            states, x = self.reservoir(warmup, state=state)  # (B, T0, N)
        y = self.readout(self._features(states[:, -1], warmup[:, -1]))  # (B, O)
        res = self.reservoir
        out = warmup.new_empty(warmup.shape[0], n_steps, self.output_size)  # (B, n, O)
        for t in range(n_steps):
            out[:, t] = y
            if t == n_steps - 1:
                break
            drive = torch.addmm(res.bias, y, res.weight_ih.t())  # (B, N)
            x = res.step(drive, x, y if self.feedback else None)  # y: the next input and the fed-back output
            y = self.readout(self._features(x, y))
        return out
