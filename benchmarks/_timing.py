"""Timing helpers shared by the benchmark scripts: thread count, warm-up, interleaved repeats, medians.

Shared machines drift (other processes, frequency changes), so the implementations being compared are
timed *interleaved*: every round runs each candidate once, in a rotating order, and ratios are taken per
round against a reference before the median. A ratio measured this way moves far less than absolute times.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


def set_threads(n: int) -> None:
    """Fix torch's intra-op threads (the benchmarks never rely on the machine's default)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a positive integer, got {n!r}")
    torch.set_num_threads(n)


def machine() -> str:
    """One line naming the CPU, torch version and thread count, for the report header."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{cpu}, torch {torch.__version__}, {torch.get_num_threads()} intra-op threads"


@dataclass
class Timings:
    """Per-candidate times (seconds) of every round, in candidate order."""

    rounds: dict[str, list[float]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.rounds[name])

    def ratio(self, name: str, reference: str) -> float:
        """Median over rounds of time(name) / time(reference) in the same round."""
        return statistics.median(a / b for a, b in zip(self.rounds[name], self.rounds[reference]))


def interleaved(candidates: dict[str, Callable[[], object]], repeats: int, warmup: int = 1) -> Timings:
    """Time every candidate ``repeats`` times, one run of each per round in rotating order, after ``warmup``
    untimed runs of each."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"expected repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    result = Timings({name: [] for name in names})
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            candidates[name]()
            result.rounds[name].append(time.perf_counter() - t0)
    return result
