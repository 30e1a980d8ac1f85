"""Synthetic tasks by name, resolved once (``unrolled lab --list`` prints this table)."""

from __future__ import annotations

from unrolled.data.synthetic.adding import AddingProblem
from unrolled.data.synthetic.base import SyntheticTask
from unrolled.data.synthetic.copy_memory import CopyMemory
from unrolled.data.synthetic.digits import SequentialDigits
from unrolled.data.synthetic.parity import Parity
from unrolled.data.synthetic.reber import EmbeddedReber
from unrolled.data.synthetic.repeat_copy import RepeatCopy

SYNTHETIC_TASKS: dict[str, SyntheticTask] = {
    "adding": AddingProblem(),
    "copy": CopyMemory(),
    "repeat_copy": RepeatCopy(),
    "xor": Parity(),
    "parity": Parity(name="parity", description="parity of all T bits", marked=False),
    "reber": EmbeddedReber(),
    "digits": SequentialDigits(),
    "digits_permuted": SequentialDigits(
        name="digits_permuted", description="sequential digits, pixels in a fixed random order", permuted=True
    ),
}


def get_task(name: str) -> SyntheticTask:
    """The task called ``name``, or a one-line ValueError listing the known names."""
    try:
        return SYNTHETIC_TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown synthetic task {name!r}; expected one of {', '.join(SYNTHETIC_TASKS)}") from None
