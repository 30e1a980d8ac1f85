"""Series CSV reader (values, missing markers and counts, every one-line error) and statsmodels' real series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unrolled.data.series_csv import read_series_csv, statsmodels_dataset


def write(tmp_path, text: str | bytes, name: str = "s.csv"):
    p = tmp_path / name
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return p


def test_reads_chosen_columns_in_order_with_time_and_missing_counts(tmp_path):
    p = write(tmp_path, "date,a,b,c\n2020-01,1.5,2,x\n2020-02,,NA,y\n2020-03, 3e2 ,-4,z\n2020-04,NaN,5,w\n")
    t = read_series_csv(p, columns=["b", "a"], time_column="date")
    assert t.columns == ("b", "a")
    np.testing.assert_array_equal(t.values, [[2, 1.5], [np.nan, np.nan], [-4, 300], [5, np.nan]])
    assert t.time == ("2020-01", "2020-02", "2020-03", "2020-04")
    assert t.missing == {"b": 1, "a": 2} and t.n_missing == 3
    np.testing.assert_array_equal(t.column("b"), [2, np.nan, -4, 5])


def test_default_reads_every_column_but_time_and_custom_markers(tmp_path):
    p = write(tmp_path, "\ufefft;u;v\r\n1;-;2\r\n\r\n2;3;.\r\n")  # BOM, CRLF, a blank line, ';' separated
    t = read_series_csv(p, time_column="t", missing=["-", "."], delimiter=";")
    assert t.columns == ("u", "v") and t.time == ("1", "2")
    np.testing.assert_array_equal(t.values, [[np.nan, 2], [3, np.nan]])
    no_time = read_series_csv(write(tmp_path, "x\n1\n2\n", "n.csv"), columns="x")
    assert no_time.time is None and no_time.values.shape == (2, 1) and no_time.missing == {"x": 0}


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, "is empty"),
        ("  \n\n", {}, "is empty"),
        ("a,b\n", {}, "no data rows"),
        ("a,b\n1,2\n", {"columns": ["c"]}, r"no column\(s\) \['c'\]; the header has \['a', 'b'\]"),
        ("a,b\n1,2\n", {"time_column": "date"}, "no time column 'date'"),
        ("a,a\n1,2\n", {}, "duplicate column"),
        ("t\n1\n", {"time_column": "t"}, "no value columns"),
        ("a,b\n1,2\n3,oops\n", {}, r":3 column 'b': 'oops' is not a number"),
        ("a,b\n1,2\n3\n", {}, r":3: 1 cells; expected 2"),
        ("a\n1\ninf\n", {}, "not a finite number"),
        ("a\n1\n", {"columns": ["a", "a"]}, "distinct column names"),
        ("a\n1\n", {"delimiter": "::"}, "one character"),
    ],
)
def test_errors_are_one_line_and_name_the_file(tmp_path, text, kwargs, message):
    p = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as info:
        read_series_csv(p, **kwargs)
    assert "\n" not in str(info.value)


def test_non_utf8_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not valid UTF-8 at byte offset 4"):
        read_series_csv(write(tmp_path, b"a,b\n\xff,2\n"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_series_csv(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("name", "length", "first", "missing"),
    [("sunspots", 309, 5.0, 0), ("nile", 100, 1120.0, 0), ("co2", 2284, 316.1, 59)],
)
def test_statsmodels_datasets(name, length, first, missing):
    pytest.importorskip("statsmodels")
    t = statsmodels_dataset(name)
    assert t.values.shape == (length, 1) and t.values[0, 0] == first and t.n_missing == missing
    assert len(t.time) == length
    assert t.time[0] in ("1700", "1871", "1958-03-29")
    assert math.isnan(t.values[:, 0].max()) == (missing > 0)


def test_statsmodels_dataset_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"unknown statsmodels data set 'air'; expected one of \['co2', 'nile'"):
        statsmodels_dataset("air")
    import sys

    monkeypatch.setitem(sys.modules, "statsmodels.datasets.nile", None)  # as if statsmodels were not installed
    with pytest.raises(ImportError, match="needs statsmodels, which is not installed") as info:
        statsmodels_dataset("nile")
    assert "\n" not in str(info.value)
