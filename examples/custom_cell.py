"""Write your own recurrent cell and get every layer feature for free.

The minimal gated unit (Zhou et al. 2016) in ~20 lines: implement ``init_state``, ``project_input`` (the part that
does not depend on the state, hoisted out of the time loop by the layer) and ``step``. Then ``Recurrent`` stacks it,
runs it bidirectionally, on variable-length batches, with delays and carried state.

    python examples/custom_cell.py
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled import Recurrent, RecurrentCell


class MGUCell(RecurrentCell):
    r"""Minimal gated unit: f_t = σ(W_f x_t + U_f h_{t-1} + b_f); h~ = tanh(W_h x_t + U_h (f_t ⊙ h_{t-1}) + b_h);
    h_t = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ h~."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self._remember(input_size=input_size, hidden_size=hidden_size)  # lets layers spawn more of it
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, hidden_size
        self.projected_size = 2 * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(2 * hidden_size, input_size))  # (W_f; W_h)
        self.weight_hh = nn.Parameter(torch.empty(2 * hidden_size, hidden_size))  # (U_f; U_h)
        self.bias_ih = nn.Parameter(torch.empty(2 * hidden_size))
        self._uniform_()

    def init_state(self, batch, device=None, dtype=None) -> Tensor:
        return self._zeros(batch, self.hidden_size, device, dtype)

    def project_input(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight_ih, self.bias_ih)  # (..., I) -> (..., 2H)

    def step(self, xp_t: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        H = self.hidden_size
        f = torch.sigmoid(xp_t[:, :H] + h @ self.weight_hh[:H].t())  # (B, H)
        cand = torch.tanh(xp_t[:, H:] + (f * h) @ self.weight_hh[H:].t())  # (B, H)
        h = torch.lerp(h, cand, f)
        return h, h


def main() -> None:
    torch.manual_seed(0)
    rnn = Recurrent(MGUCell(8, 16), 8, 16, num_layers=2, bidirectional=True, delays=(1, 3))
    x = torch.randn(4, 12, 8)  # (B, T, I)
    lengths = torch.tensor([12, 9, 5, 1])
    y, state = rnn(x, lengths=lengths)  # y: (B, T, 2H)
    print("output", tuple(y.shape), "zero past each end:", bool((y[1, 9:] == 0).all() and (y[3, 1:] == 0).all()))
    alone, _ = rnn(x[2:3, :5])  # the third sequence on its own gives the same numbers
    print("padded equals unpadded:", torch.allclose(alone, y[2:3, :5], atol=1e-6))
    y.sum().backward()
    print("parameters with gradients:", sum(p.grad is not None for p in rnn.parameters()))


if __name__ == "__main__":
    main()
