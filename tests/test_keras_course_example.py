"""examples/keras_course.py learns its four sentences (run as a script, as the other examples are)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "keras_course.py"


def test_keras_course_example_learns_its_four_sentences():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True).stdout
    rows = re.findall(r"label (\d)  p\(1\) = ([0-9.]+)", out)
    assert len(rows) == 4, out
    for label, prob in rows:
        assert (float(prob) > 0.9) if label == "1" else (float(prob) < 0.1), out
    assert "accuracy 1.00" in out
    loss = float(re.search(r"final loss ([0-9.]+)", out).group(1))
    assert loss < 0.1, out
