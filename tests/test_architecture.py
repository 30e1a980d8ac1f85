"""Dependencies point down only: cli -> tasks -> models -> layers -> cells; data/text/train/decode/metrics/viz never
import models.

Checked statically on the import statements of every module (absolute and relative, ``from unrolled import x``
too), so a violation fails even in code no test runs. Top-level modules have rules of their own: ``state`` and
``config_io`` sit below every package, ``cli`` (and ``__main__``) may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "unrolled"

PACKAGES = {
    *("cells", "layers", "reference", "models", "data", "text", "train", "decode", "tasks"),
    *("metrics", "viz", "reservoir", "analysis"),
}

# package -> the unrolled packages and top-level modules it must never import ("__init__": the package root, e.g.
# ``from unrolled import Recurrent``; every package imports what it needs from where it lives)
FORBIDDEN = {
    "cells": {"layers", "models", "tasks", "cli", "train", "data", "text", "decode", "config_io", "__init__"},
    "layers": {"models", "tasks", "cli", "train", "data", "text", "decode", "config_io", "__init__"},
    "reference": {
        *("cells", "layers", "models", "tasks", "cli", "train", "data", "text", "decode", "config_io", "__init__")
    },
    "models": {"tasks", "cli", "train", "__init__"},
    "data": {"models", "tasks", "cli", "train", "layers", "cells", "__init__"},
    "text": {"models", "tasks", "cli", "train", "layers", "cells", "__init__"},
    "train": {"models", "tasks", "cli", "layers", "cells", "data", "text", "__init__"},
    "decode": {"models", "tasks", "cli", "train", "layers", "cells", "__init__"},
    "tasks": {"cli", "__init__"},
    # scores of predictions (accuracy, F1, BLEU, forecast errors): plain functions of tensors, lists and strings
    "metrics": {"models", "tasks", "cli", "train", "layers", "cells", "__init__"},
    # pictures (heatmaps, confusion matrices, forecasts, gradient norms): matplotlib over arrays, no models
    "viz": {"models", "tasks", "cli", "train", "layers", "cells", "__init__"},
    # echo state networks: fixed recurrences and closed-form readouts, at the level of layers
    "reservoir": {"models", "tasks", "cli", "train", "__init__"},
    # diagnostics of trained or untrained recurrent models (gradient flow, spectra): may look at any model
    "analysis": {"tasks", "cli", "__init__"},
}

# top-level module -> what it must never import. state: a leaf (every layer uses it, so it uses nothing of
# unrolled); config_io: generic typed-config machinery used by tasks and cli, so no package and not cli (it may
# use shared top-level helpers such as errors); the package root stays light (no cli, no tasks).
FORBIDDEN_MODULES = {
    "state": PACKAGES | {"cli", "config_io", "__init__"},
    "config_io": PACKAGES | {"cli", "state", "__init__"},
    "__init__": {"cli", "tasks"},
    "cli": set(),
    "__main__": set(),
}
# any other top-level module (shared helpers) lies below the packages that may use it: never cli or tasks
DEFAULT_MODULE_FORBIDDEN = {"cli", "tasks", "__init__"}


def top_level_names() -> set[str]:
    """The packages and top-level modules of unrolled."""
    return {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()} | {p.stem for p in SRC.glob("*.py")}


def imported(source: str, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The top-level parts of unrolled (packages, modules, or ``"__init__"`` for the package root itself) that the
    code ``source`` of module ``module`` (dotted, e.g. ``unrolled.layers.fused``) imports."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()

    def add(name: str, alias: str | None = None) -> None:
        parts = name.split(".")
        if parts[0] != "unrolled":
            return
        if len(parts) > 1:
            found.add(parts[1])
        elif alias is not None and alias in known:  # from unrolled import layers
            found.add(alias)
        else:  # import unrolled / from unrolled import Recurrent: runs the package root
            found.add("__init__")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            for a in node.names:
                add(name, a.name)
    return found


def module_name(path: Path) -> tuple[str, bool]:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def imports_of(path: Path) -> set[str]:
    name, is_package = module_name(path)
    found = imported(path.read_text(encoding="utf-8"), name, is_package, top_level_names())
    own = name.split(".")[1] if "." in name else "__init__"
    return found - {own}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_down(package):
    files = sorted((SRC / package).rglob("*.py"))
    assert files, package
    bad = {
        str(f.relative_to(SRC)): sorted(imports_of(f) & FORBIDDEN[package])
        for f in files
        if imports_of(f) & FORBIDDEN[package]
    }
    assert not bad, f"{package} imports packages above it: {bad}"


@pytest.mark.parametrize("module", sorted(p.stem for p in SRC.glob("*.py")))
def test_top_level_modules_import_only_what_they_may(module):
    forbidden = FORBIDDEN_MODULES.get(module, DEFAULT_MODULE_FORBIDDEN)
    bad = sorted(imports_of(SRC / f"{module}.py") & forbidden)
    assert not bad, f"{module}.py imports {bad}, which it must not"


def test_every_package_has_a_rule():
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert packages == PACKAGES, f"packages without a rule in FORBIDDEN: {sorted(packages - PACKAGES)}"
    assert set(FORBIDDEN) == PACKAGES
    assert {"state", "config_io", "cli"} <= {p.stem for p in SRC.glob("*.py")}


KNOWN = PACKAGES | {"state", "config_io", "cli"}


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ("from unrolled.layers.fused import x", "unrolled.cells.gru", False, {"layers"}),
        ("import unrolled.models.ngram as m", "unrolled.cells.gru", False, {"models"}),
        ("from ..layers import fused", "unrolled.cells.gru", False, {"layers"}),
        ("from .. import models", "unrolled.cells.gru", False, {"models"}),
        ("from . import base", "unrolled.cells.gru", False, {"cells"}),
        ("from .base import x", "unrolled.cells", True, {"cells"}),
        ("from ...tasks import lm", "unrolled.layers.scan.kernel", False, {"tasks"}),
        ("from .. import kernel", "unrolled.layers.scan.routing", False, {"layers"}),
        ("from .state import map_state", "unrolled.config_io", False, {"state"}),
        ("from . import cli", "unrolled", True, {"cli"}),
        ("from unrolled import Recurrent", "unrolled.cells.gru", False, {"__init__"}),
        ("from unrolled import layers, tasks", "unrolled.cells.gru", False, {"layers", "tasks"}),
        ("import unrolled", "unrolled.state", False, {"__init__"}),
        ("import torch\nfrom torch import nn\nfrom . import x", "unrolled.state", False, {"__init__"}),
        ("def f():\n    from unrolled.train import Trainer\n", "unrolled.decode.generate", False, {"train"}),
    ],
)
def test_the_import_parser_sees_every_form(source, module, is_package, expected):
    assert imported(source, module, is_package, KNOWN) == expected
