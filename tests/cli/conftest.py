"""The CLI tests' shared fixture (``corpus``); makes ``_cli_testkit`` importable under --import-mode=importlib."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _cli_testkit import TEXT  # noqa: E402


@pytest.fixture()
def corpus(tmp_path):
    """A tiny UTF-8 text file."""
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path
