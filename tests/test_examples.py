"""The scripts in examples/ run and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    "script, expected",
    [
        ("custom_cell.py", ["zero past each end: True", "padded equals unpadded: True"]),
        ("bptt_by_hand.py", ["dL/dW: max |by hand - autograd| = "]),
    ],
)
def test_example_runs(script, expected):
    out = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, check=True).stdout
    for line in expected:
        assert line in out, out
    if script == "bptt_by_hand.py":
        diffs = [float(line.rsplit("=", 1)[1]) for line in out.splitlines() if "max |by hand" in line]
        assert len(diffs) == 5 and max(diffs) < 1e-10
