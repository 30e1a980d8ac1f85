"""Numeric time series from CSV files, and the real series statsmodels ships (sunspots, CO2, Nile).

:func:`read_series_csv` reads a header row and data rows (strict UTF-8 via :func:`read_utf8_file`): an optional
time column kept as text, and one or many value columns chosen by name, parsed as float64. Cells matching a
missing-value marker (empty, ``NA``, ``NaN``... configurable, compared after stripping spaces) become NaN and
are counted per column. Every problem is a one-line error naming the file: a missing file, bytes that are not
UTF-8, an empty file or one with no data rows, an unknown or duplicated column, a row with the wrong number of
cells, a non-numeric cell (with its line number and column name).

Example::

    >>> table = read_series_csv("prices.csv", columns=["close"], time_column="date")  # doctest: +SKIP
    >>> table.values.shape, table.missing  # doctest: +SKIP
    ((250, 1), {'close': 3})
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from unrolled.data.readers import read_utf8_file

__all__ = ["DEFAULT_MISSING", "STATSMODELS_DATASETS", "SeriesTable", "read_series_csv", "statsmodels_dataset"]

DEFAULT_MISSING = ("", "NA", "N/A", "NaN", "nan", "NAN", "null", "NULL", "None", "?")


@dataclass(frozen=True)
class SeriesTable:
    """Value columns as a float64 array with NaN for missing cells, plus the time labels.

    Shape:
        values ``(T, D)``: T rows, D value columns in the order of ``columns``; ``time`` has T entries or is
        ``None``.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    time: tuple[str, ...] | None
    missing: dict[str, int]

    @property
    def n_missing(self) -> int:
        """Total number of missing cells over the value columns."""
        return sum(self.missing.values())

    def column(self, name: str) -> np.ndarray:
        """One value column, ``(T,)``."""
        if name not in self.columns:
            raise ValueError(f"no column {name!r}; expected one of {list(self.columns)}")
        return self.values[:, self.columns.index(name)]


def _parse(cell: str, missing: frozenset[str], where: str) -> float:
    text = cell.strip()
    if text in missing:
        return float("nan")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {cell!r} is not a number (nor a missing-value marker)") from None
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{where}: {cell!r} is not a finite number")
    return value  # a NaN spelled otherwise than the markers (e.g. "nAn") still reads as missing


def read_series_csv(
    path: str | os.PathLike[str],
    columns: Sequence[str] | str | None = None,
    time_column: str | None = None,
    missing: Sequence[str] = DEFAULT_MISSING,
    delimiter: str = ",",
) -> SeriesTable:
    """Read numeric series from a CSV file with a header row.

    Args:
        path: the CSV file (UTF-8; a leading byte-order mark is ignored).
        columns: value column name(s) to read, in this order; ``None`` reads every column but ``time_column``.
        time_column: a column of time labels (kept as text, never parsed), or ``None``.
        missing: cell texts (after stripping spaces) that mean "missing" and become NaN.
        delimiter: the field separator.

    Returns:
        :class:`SeriesTable`.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not UTF-8, empty, no data rows, unknown/duplicate column, ragged row, non-numeric cell.
    """
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"expected delimiter to be one character, got {delimiter!r}")
    text = read_utf8_file(path)
    if not text.strip():
        raise ValueError(f"{path} is empty; expected a CSV file with a header row and data rows")
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    line_of = [i + 1 for i, row in enumerate(rows) if row]  # 1-based line numbers of non-blank rows
    rows = [row for row in rows if row]
    header = [h.strip() for h in rows[0]]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ValueError(f"{path}: duplicate column name(s) {dupes} in the header")
    if len(rows) < 2:
        raise ValueError(f"{path} has a header but no data rows")
    if time_column is not None and time_column not in header:
        raise ValueError(f"{path}: no time column {time_column!r}; the header has {header}")
    chosen = [h for h in header if h != time_column] if columns is None else list(columns)
    unknown = [c for c in chosen if c not in header]
    if unknown:
        raise ValueError(f"{path}: no column(s) {unknown}; the header has {header}")
    if not chosen:
        raise ValueError(f"{path}: no value columns to read (the only column is the time column)")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"expected distinct column names, got {list(chosen)}")
    markers = frozenset(str(m).strip() for m in missing)
    idx = [header.index(c) for c in chosen]
    values = np.empty((len(rows) - 1, len(chosen)))
    time: list[str] = []
    t_idx = header.index(time_column) if time_column is not None else None
    for r, (row, line) in enumerate(zip(rows[1:], line_of[1:])):
        if len(row) != len(header):
            raise ValueError(f"{path}:{line}: {len(row)} cells; expected {len(header)} as in the header")
        for j, (i, name) in enumerate(zip(idx, chosen)):
            values[r, j] = _parse(row[i], markers, f"{path}:{line} column {name!r}")
        if t_idx is not None:
            time.append(row[t_idx].strip())
    counts = {name: int(np.isnan(values[:, j]).sum()) for j, name in enumerate(chosen)}
    return SeriesTable(
        values=values, columns=tuple(chosen), time=tuple(time) if t_idx is not None else None, missing=counts
    )


# name -> (statsmodels.datasets module, value column, time column or None for the index)
STATSMODELS_DATASETS: dict[str, tuple[str, str, str | None]] = {
    "sunspots": ("sunspots", "SUNACTIVITY", "YEAR"),  # yearly sunspot numbers 1700-2008
    "co2": ("co2", "co2", None),  # weekly Mauna Loa CO2 1958-2001, with missing weeks
    "nile": ("nile", "volume", "year"),  # yearly Nile flow at Aswan 1871-1970
}


def statsmodels_dataset(name: str) -> SeriesTable:
    """One of the real series bundled with statsmodels (no download): ``"sunspots"``, ``"co2"``, ``"nile"``.

    Needs the ``statsmodels`` package (``pip install 'unrolled[bench]'``); imported only when called.

    Returns:
        :class:`SeriesTable` with one value column (NaN where the data set has gaps, as CO2 does) and the
        time labels as text.
    """
    if name not in STATSMODELS_DATASETS:
        raise ValueError(f"unknown statsmodels data set {name!r}; expected one of {sorted(STATSMODELS_DATASETS)}")
    module, value, time_col = STATSMODELS_DATASETS[name]
    try:
        import importlib

        datasets = importlib.import_module(f"statsmodels.datasets.{module}")
    except ImportError:
        raise ImportError(
            f"the {name!r} data set needs statsmodels, which is not installed: pip install 'unrolled[bench]'"
        ) from None
    frame = datasets.load_pandas().data
    values = frame[value].to_numpy(dtype=np.float64)[:, None]  # (T, 1)
    if time_col is None:
        time = tuple(str(t.date()) if hasattr(t, "date") else str(t) for t in frame.index)
    else:
        time = tuple(str(int(t)) if float(t).is_integer() else str(t) for t in frame[time_col])
    return SeriesTable(values=values, columns=(value,), time=time, missing={value: int(np.isnan(values).sum())})
