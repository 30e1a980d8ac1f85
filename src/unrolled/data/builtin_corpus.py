"""A corpus every installation has: the source text of some of Python's own standard-library modules.

Used by ``unrolled train lm`` when no ``--data`` is given, so the main job runs on a fresh machine with no download
and no extra package. The text differs slightly between Python versions (the modules evolve); a run records the
corpus' size and checksum in its config so results stay traceable.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass

#: modules whose source makes up the corpus, in this order (prose-rich docstrings, idiomatic code)
MODULES: tuple[str, ...] = (
    "textwrap",
    "string",
    "difflib",
    "calendar",
    "fractions",
    "heapq",
    "bisect",
    "functools",
    "dataclasses",
    "enum",
    "shutil",
    "random",
    "statistics",
    "tempfile",
    "argparse",
    "inspect",
    "typing",
    "collections",
)


@dataclass(frozen=True)
class BuiltinCorpus:
    text: str
    modules: tuple[str, ...]
    sha256: str


def python_stdlib_corpus(modules: tuple[str, ...] = MODULES, min_chars: int = 100_000) -> BuiltinCorpus:
    """Concatenate the source of ``modules`` (those whose source is installed). Raises a one-line RuntimeError
    when the Python installation ships too little source (e.g. a bytecode-only distribution)."""
    parts, found = [], []
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = getattr(spec, "origin", None) if spec else None
        if not origin or not origin.endswith(".py"):
            continue
        try:
            with open(origin, encoding="utf-8") as f:
                parts.append(f.read())
            found.append(name)
        except (OSError, UnicodeDecodeError):
            continue
    text = "\n".join(parts)
    if len(text) < min_chars:
        raise RuntimeError(
            f"the built-in corpus needs the standard library's .py sources, found only {len(text)} characters; "
            "pass --data PATH to train on your own text"
        )
    return BuiltinCorpus(text, tuple(found), hashlib.sha256(text.encode()).hexdigest())
