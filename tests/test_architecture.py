"""Dependencies point down only: cli -> tasks -> models -> layers -> cells; data/text/train/decode never import models.

Checked statically on the import statements of every module, so a violation fails even in code no test runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "unrolled"

# package -> the unrolled packages it must never import
FORBIDDEN = {
    "cells": {"layers", "models", "tasks", "cli", "train", "data", "text", "decode"},
    "layers": {"models", "tasks", "cli", "train", "data", "text", "decode"},
    "reference": {"cells", "layers", "models", "tasks", "cli", "train", "data", "text", "decode"},
    "models": {"tasks", "cli", "train"},
    "data": {"models", "tasks", "cli", "train", "layers", "cells"},
    "text": {"models", "tasks", "cli", "train", "layers", "cells"},
    "train": {"models", "tasks", "cli", "layers", "cells", "data", "text"},
    "decode": {"models", "tasks", "cli", "train", "layers", "cells"},
    "tasks": {"cli"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "unrolled" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down(package):
    files = sorted((SRC / package).rglob("*.py"))
    assert files, package
    bad = {
        str(f.relative_to(SRC)): sorted(_imported_packages(f) & FORBIDDEN[package])
        for f in files
        if _imported_packages(f) & FORBIDDEN[package]
    }
    assert not bad, f"{package} imports packages above it: {bad}"
