"""The lab's models, shaped by the task's loss kind: a chain :class:`LabModel` (a recurrent layer stack and a
linear read-out) or :class:`LabNTM` (a neural Turing machine, Graves et al. 2014)."""

from __future__ import annotations

from torch import Tensor, nn

from unrolled.layers import Recurrent
from unrolled.models.ntm import NTM


class LabModel(nn.Module):
    r"""A :class:`~unrolled.layers.Recurrent` stack and a linear read-out :math:`o_t = V h_t + c`.

    The read-out is applied where the loss kind needs it (resolved once at construction): at the last step
    (``mse_last``, ``ce_last``) or at every step (``ce_steps``).

    Args:
        cell: a cell registry name. input_size: I. hidden_size: H. output_size: O. loss: the task's loss kind.
        num_layers: L. **cell_kwargs: passed to the cells.

    Shape:
        - x: (B, T, I); output: (B, O) for ``*_last``, (B, T, O) for ``ce_steps``.

    Example::

        >>> model = LabModel("lstm", 2, 64, 1, "mse_last")
        >>> model(torch.randn(8, 100, 2)).shape
        torch.Size([8, 1])
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        loss: str,
        num_layers: int = 1,
        **cell_kwargs,
    ):
        super().__init__()
        self.rnn = Recurrent(cell, input_size, hidden_size, num_layers=num_layers, **cell_kwargs)
        self.head = nn.Linear(self.rnn.output_size, output_size)
        self.every_step = loss == "ce_steps"

    def forward(self, x: Tensor) -> Tensor:
        y, _ = self.rnn(x)  # (B, T, H)
        if self.every_step:
            return self.head(y)  # (B, T, O)
        return self.head(y[:, -1])  # (B, O)


class LabNTM(nn.Module):
    r"""A :class:`~unrolled.models.ntm.NTM` (LSTM controller, one read and one write head, 20-wide memory rows,
    shifts -1..1) with its output taken where the loss kind needs it: the last step (``*_last``) or every step
    (``ce_steps``). ``rnn`` is the NTM's :class:`~unrolled.layers.Recurrent`, so the gradient-norm recorder sees it.

    Args:
        input_size: I. hidden_size: H, controller units. output_size: O. loss: the task's loss kind.
        memory_slots: N, memory rows (the lab passes the sequence length, so every step can have its own row).

    Shape:
        - x: (B, T, I); output: (B, O) for ``*_last``, (B, T, O) for ``ce_steps``.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, loss: str, memory_slots: int):
        super().__init__()
        self.ntm = NTM(
            input_size,
            output_size,
            hidden_size=hidden_size,
            memory_slots=memory_slots,
            memory_width=20,
            read_heads=1,
            write_heads=1,
            shift_range=1,
        )
        self.rnn = self.ntm.rnn
        self.every_step = loss == "ce_steps"

    def forward(self, x: Tensor) -> Tensor:
        y = self.ntm(x)  # (B, T, O)
        return y if self.every_step else y[:, -1]
