"""Temporary files and folders for atomic writes, created with the normal permissions (``0o666`` / ``0o777``
less the umask) so that the final file or folder gets the permissions of any other file a run writes
(``tempfile.mkstemp`` / ``mkdtemp`` would leave them private, 0600 / 0700). Imports nothing from the package."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["make_temp_dir", "open_temp_file"]


def open_temp_file(folder: str | os.PathLike[str], name: str) -> tuple[int, Path]:
    """Create ``folder/.name.XXXXXXXX.tmp`` exclusively; returns its open write descriptor and its path."""
    folder = Path(folder)
    while True:
        path = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:  # pragma: no cover - 32 random bits collide
            continue


def make_temp_dir(folder: str | os.PathLike[str], prefix: str) -> Path:
    """Create a fresh folder ``folder/prefixXXXXXXXX`` and return its path."""
    folder = Path(folder)
    while True:
        path = folder / f"{prefix}{secrets.token_hex(4)}"
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:  # pragma: no cover
            continue
