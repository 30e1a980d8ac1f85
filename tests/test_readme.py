"""The README's code runs as written, and CI runs the README's own test command."""

from __future__ import annotations

import re
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def section(text: str, title: str) -> str:
    """The text of the ``## title`` section, up to the next heading of level 2."""
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def commands(bash: str) -> list[str]:
    """The command lines of a bash block: no comments, no blank lines."""
    return [line.strip() for line in bash.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_python_tour_runs():
    blocks = [body for lang, body in fenced_blocks(section(README, "A tour of the Python API")) if lang == "python"]
    assert len(blocks) == 1, "expected one python block in the tour"
    code = blocks[0]
    assert "Recurrent(" in code and "from_torch" in code
    torch.manual_seed(0)
    namespace: dict = {}
    start = time.perf_counter()
    exec(compile(code, "README.md (A tour of the Python API)", "exec"), namespace)
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, f"the tour took {elapsed:.1f} s"
    # it did what its comments say
    y, rnn = namespace["y"], namespace["rnn"]
    assert y.shape == (8, 50, 128) and rnn.num_layers == 2
    assert all(not t.requires_grad for s in namespace["state"] for t in s)  # detached for truncated BPTT
    x = torch.randn(2, 7, 16)
    torch.testing.assert_close(namespace["same"].eval()(x)[0], namespace["lstm"].eval()(x)[0])


def test_ci_runs_the_readme_test_command_verbatim():
    lang, first = fenced_blocks(README)[0]
    assert lang == "bash"
    readme_commands = commands(first)
    assert len(readme_commands) == 2, readme_commands
    test_command = readme_commands[1]
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in [line.strip() for line in ci.splitlines()], f"{test_command!r} not in .ci/run"
