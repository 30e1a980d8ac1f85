"""The project's user-error type: a mistake in what the user asked for, reported by the CLI as one line.

Every error class that means "bad input" (a bad config value, a missing or corrupt run folder or checkpoint, a
diverged run) derives from :class:`UnrolledError` as well as from the builtin type code expects (``ValueError``,
``RuntimeError``), so ``except ValueError`` keeps working. Imports nothing from the package: every layer may use it.
"""

from __future__ import annotations

__all__ = ["UnrolledError"]


class UnrolledError(Exception):
    """A user error with a one-line message that says what was expected."""
