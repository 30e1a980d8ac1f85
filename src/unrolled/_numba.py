"""numba for the compiled CPU loops (the reservoir recurrence, the layer-norm LSTM step), imported lazily: whether
it imports, and ``njit`` with an on-disk cache that falls back to compiling in memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["cached_njit", "numba_available"]


def numba_available() -> bool:
    """Whether numba imports (a dictionary lookup once it has been imported; not cached, so that a test can hide
    numba with ``sys.modules["numba"] = None``)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def cached_njit(**options: Any) -> Callable[[Callable], Any]:
    """``numba.njit(cache=True, **options)`` as a decorator: each signature compiled once and cached on disk
    (``__pycache__`` beside the source, else numba's user-wide cache directory). Where no cache directory is
    writable numba refuses ``cache=True`` with a RuntimeError; the function is then compiled in memory, in every
    process, instead of failing the import of the module that defines it."""
    import numba

    def decorate(fn: Callable) -> Any:
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:
            return numba.njit(**options)(fn)

    return decorate
