"""Built-in pair tasks: seeded, distinct, and correct targets."""

import datetime

import pytest

from unrolled.data.synthetic_pairs import SYNTHETIC_TASKS, make_pairs


def test_dates_are_iso_and_seeded():
    pairs = make_pairs("dates", 300, seed=1)
    assert pairs == make_pairs("dates", 300, seed=1) and pairs != make_pairs("dates", 300, seed=2)
    assert len({s for s, _ in pairs}) == 300
    for src, tgt in pairs:
        d = datetime.date.fromisoformat(tgt)
        assert str(d.year) in src and 1950 <= d.year <= 2049
    assert len({len(s) for s, _ in pairs}) > 5  # many formats


def test_symbol_tasks():
    for s, t in make_pairs("reverse", 50, seed=0):
        assert t == s[::-1]
    for s, t in make_pairs("sort", 50, seed=0):
        assert t == "".join(sorted(s))
    assert all(s == t for s, t in make_pairs("copy", 50))
    assert set(SYNTHETIC_TASKS) == {"dates", "reverse", "copy", "sort"}
    with pytest.raises(ValueError, match="built-in task must be one of"):
        make_pairs("dates2", 3)
