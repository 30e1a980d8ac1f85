"""Make the helpers of tests/train importable (``import _train_testkit``) under --import-mode=importlib, also in
the worker processes that the distributed test spawns (they inherit ``sys.path``)."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
