"""The lab's model: one recurrent layer stack and a linear read-out, shaped by the task's loss kind."""

from __future__ import annotations

from torch import Tensor, nn

from unrolled.layers import Recurrent


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
