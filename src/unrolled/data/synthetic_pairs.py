"""Built-in sequence-to-sequence tasks to learn without data, seeded: dates, reversal, copy, sort.

* ``dates``: a date written in one of many human formats ("3 March 1987", "Tuesday, March 3, 1987", "03/03/1987",
  "1987.3.3", ...) -> ISO 8601 ``1987-03-03`` (the classic date-normalisation exercise of neural MT courses).
* ``reverse``, ``copy``, ``sort``: random strings of lowercase letters -> reversed, the same, sorted.

Every generator takes ``(n, seed)`` and returns ``n`` distinct (source, target) string pairs, the same for the
same seed on every machine (Python's ``random.Random``). Resolved by name through :data:`SYNTHETIC_TASKS`.
"""

from __future__ import annotations

import datetime as _dt
import random
from collections.abc import Callable

__all__ = ["SYNTHETIC_TASKS", "date_pairs", "make_pairs", "symbol_pairs"]

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _formats(d: _dt.date) -> list[str]:
    M, Ms, W, Ws = _MONTHS[d.month - 1], _MONTHS[d.month - 1][:3], _DAYS[d.weekday()], _DAYS[d.weekday()][:3]
    y, m, day = d.year, d.month, d.day
    return [
        f"{day} {M} {y}",
        f"{day} {Ms} {y}",
        f"{M} {day}, {y}",
        f"{Ms} {day}, {y}",
        f"{W}, {M} {day}, {y}",
        f"{Ws}, {day} {Ms} {y}",
        f"{day:02d}/{m:02d}/{y}",
        f"{day}.{m}.{y}",
        f"{y}.{m}.{day}",
        f"{y}/{m:02d}/{day:02d}",
        f"{day:02d}-{Ms.upper()}-{y}",
        f"{M.lower()} {day} {y}",
        f"{W.lower()} {day} {M.lower()} {y}",
        f"{day} {M.upper()} {y}",
    ]


def date_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct (human date, ISO 8601 date) pairs, dates from 1950 to 2049."""
    rng = random.Random(seed)
    start, span = _dt.date(1950, 1, 1).toordinal(), (_dt.date(2049, 12, 31) - _dt.date(1950, 1, 1)).days
    seen, out = set(), []
    while len(out) < n:
        d = _dt.date.fromordinal(start + rng.randrange(span + 1))
        src = rng.choice(_formats(d))
        if src in seen:
            continue
        seen.add(src)
        out.append((src, d.isoformat()))
    return out


def symbol_pairs(kind: str, n: int, seed: int = 0, min_len: int = 3, max_len: int = 10) -> list[tuple[str, str]]:
    """``n`` distinct random lowercase strings and their reversal / copy / sorted form."""
    transform: dict[str, Callable[[str], str]] = {
        "reverse": lambda s: s[::-1],
        "copy": lambda s: s,
        "sort": lambda s: "".join(sorted(s)),
    }
    if kind not in transform:
        raise ValueError(f"symbol task must be one of {sorted(transform)}, got {kind!r}")
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    seen, out = set(), []
    while len(out) < n:
        s = "".join(rng.choice(letters) for _ in range(rng.randint(min_len, max_len)))
        if s in seen:
            continue
        seen.add(s)
        out.append((s, transform[kind](s)))
    return out


SYNTHETIC_TASKS: dict[str, Callable[[int, int], list[tuple[str, str]]]] = {
    "dates": date_pairs,
    "reverse": lambda n, seed=0: symbol_pairs("reverse", n, seed),
    "copy": lambda n, seed=0: symbol_pairs("copy", n, seed),
    "sort": lambda n, seed=0: symbol_pairs("sort", n, seed),
}


def make_pairs(name: str, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` pairs of the built-in task ``name`` (``dates``, ``reverse``, ``copy``, ``sort``).

    Example::

        >>> make_pairs("reverse", 1, seed=0)[0][0][::-1] == make_pairs("reverse", 1, seed=0)[0][1]
        True
    """
    if name not in SYNTHETIC_TASKS:
        raise ValueError(f"built-in task must be one of {sorted(SYNTHETIC_TASKS)}, got {name!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"number of pairs must be a positive integer, got {n!r}")
    return SYNTHETIC_TASKS[name](n, seed)
