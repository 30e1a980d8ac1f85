"""Seeded synthetic tasks that need long-term memory, each with its chance-level baseline and loss kind.

Example::

    >>> from unrolled.data.synthetic import get_task
    >>> task = get_task("adding")
    >>> x, y = task.batch(32, 100, torch.Generator().manual_seed(0))   # x (32, 100, 2), y (32, 1)
    >>> task.baseline(100)                                             # MSE of always predicting 1
    0.16666666666666666
"""

from unrolled.data.synthetic.adding import AddingProblem
from unrolled.data.synthetic.base import LOSS_KINDS, SyntheticTask
from unrolled.data.synthetic.copy_memory import CopyMemory
from unrolled.data.synthetic.digits import SequentialDigits, pixel_permutation
from unrolled.data.synthetic.parity import Parity
from unrolled.data.synthetic.reber import EmbeddedReber, embedded_reber_string, reber_string
from unrolled.data.synthetic.registry import SYNTHETIC_TASKS, get_task
from unrolled.data.synthetic.repeat_copy import RepeatCopy

__all__ = [
    "LOSS_KINDS",
    "SYNTHETIC_TASKS",
    "AddingProblem",
    "CopyMemory",
    "EmbeddedReber",
    "Parity",
    "RepeatCopy",
    "SequentialDigits",
    "SyntheticTask",
    "embedded_reber_string",
    "get_task",
    "pixel_permutation",
    "reber_string",
]
