"""Errors raised by the training engine (each carries a one-line message)."""

from __future__ import annotations

from unrolled.errors import UnrolledError

__all__ = ["CheckpointError", "TrainingDiverged"]


class CheckpointError(UnrolledError, ValueError):
    """A checkpoint or weights file is missing, incomplete, corrupt, or does not match the model."""


class TrainingDiverged(UnrolledError, RuntimeError):
    """The training loss (or gradient norm) became NaN or infinite; the last good checkpoint is left untouched."""
