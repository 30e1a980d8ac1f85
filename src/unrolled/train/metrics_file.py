"""The metrics file of a run: one row per log event, as CSV or JSON lines.

Columns (:data:`COLUMNS`):

- ``step``: global optimizer step; ``epoch``: 1-based epoch the row belongs to;
- ``split``: ``train`` (mean over the steps since the previous train row), ``train_epoch`` (mean over the epoch)
  or ``valid`` (a validation pass);
- ``loss``: token-weighted mean loss in nats; ``metric``: the configured ``TrainConfig.metric`` of that loss
  (``ppl``, ``bpc``, or the loss again);
- ``lr``, ``grad_norm`` (global gradient norm before clipping, last step of the interval), ``tokens_per_s``
  (units counted by the objective per second of training), ``time`` (seconds of training since the run began,
  summed over resumed sessions).

Missing values are empty cells in CSV and ``null`` in JSON lines. When a run resumes, rows written after its
checkpoint are dropped first, so the file reads as if the run had never stopped.

Example::

    >>> f = MetricsFile("runs/x/metrics.csv", "csv")
    >>> f.write({"step": 50, "epoch": 1, "split": "train", "loss": 4.2, "metric": 66.7, "lr": 1.0,
    ...          "grad_norm": 3.1, "tokens_per_s": 51234.0, "time": 12.5})
    >>> f.close()
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "MetricsFile"]

COLUMNS = ("step", "epoch", "split", "loss", "metric", "lr", "grad_norm", "tokens_per_s", "time")


def _csv_line(row: dict[str, Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(["" if row.get(c) is None else row.get(c) for c in COLUMNS])
    return buffer.getvalue()


def _jsonl_line(row: dict[str, Any]) -> str:
    return json.dumps({c: row.get(c) for c in COLUMNS}) + "\n"


# format name -> (header line or None, row formatter)
_FORMATS = {
    "csv": (",".join(COLUMNS) + "\n", _csv_line),
    "jsonl": (None, _jsonl_line),
}


class MetricsFile:
    """Append-only metrics file.

    Args:
        path: file to write (``metrics.csv`` / ``metrics.jsonl``).
        fmt: ``csv`` or ``jsonl``.
        keep_rows: ``None`` to start a new file; an int to keep only the first ``keep_rows`` rows of an existing
            file and append after them (resuming).
    """

    def __init__(self, path: str | os.PathLike, fmt: str, keep_rows: int | None = None) -> None:
        if fmt not in _FORMATS:
            raise ValueError(f"unknown metrics format {fmt!r}; expected one of {', '.join(_FORMATS)}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header, self._format_row = _FORMATS[fmt]
        kept: list[str] = []
        if keep_rows is not None and self.path.is_file():
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = lines[1:] if header is not None else lines
            kept = kept[:keep_rows]
        self.rows = len(kept)
        self._file = self.path.open("w", encoding="utf-8")
        self._file.write((header or "") + "".join(kept))
        self._file.flush()

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (keys of :data:`COLUMNS`; others are ignored) and flush."""
        self._file.write(self._format_row(row))
        self._file.flush()
        self.rows += 1

    def close(self) -> None:
        self._file.close()
