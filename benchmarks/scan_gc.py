"""Garbage-collector pauses caused by the scan path: collections per generation and their durations over N calls.

Every Python object that supports reference cycles (tensors, tuples, lists, dicts) counts towards CPython's
collection thresholds while it is alive; the objects still alive when a collection runs are promoted to the
next generation, and enough promotions start a full (generation 2) collection, whose pause grows with
everything the process holds. So what matters is how many such objects a call keeps alive at once (per-step
views of the (T, B, ·) buffers held in lists, per-step statistics, per-step gradient tuples), not how many it
creates and frees at once.

This script runs ``Recurrent`` layers on the scan path (forward and backward, the training step) ``--calls``
times with ``gc.callbacks`` recording each collection's generation and duration, in a process that also holds
``--heap`` long-lived small objects (a stand-in for a real program's modules, datasets, vocabularies: a full
collection walks all of them, which is what makes its pause long).

    python benchmarks/scan_gc.py                       # ln_lstm and lstm, 200 calls, B32 T100 I128 H256
    python benchmarks/scan_gc.py --cells ln_lstm --calls 200 --heap 1000000
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine, set_threads  # noqa: E402
from unrolled import Recurrent  # noqa: E402


class GCRecorder:
    """Counts collections per generation and their wall-clock durations, through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.events: list[tuple[int, float]] = []  # (generation, seconds)
        self._start = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.events.append((info["generation"], time.perf_counter() - self._start))

    def summary(self, calls: int) -> dict[int, tuple[int, float, float]]:
        """generation -> (collections, calls per collection, median ms)."""
        out = {}
        for gen in (0, 1, 2):
            times = [d for g, d in self.events if g == gen]
            per = calls / len(times) if times else float("inf")
            out[gen] = (len(times), per, 1000 * statistics.median(times) if times else 0.0)
        return out


def run(cell: str, calls: int, sizes: tuple[int, int, int, int]) -> dict[int, tuple[int, float, float]]:
    B, T, I, H = sizes
    torch.manual_seed(0)
    layer = Recurrent(cell, I, H, backend="scan", batch_first=True)
    x = torch.randn(B, T, I)
    for _ in range(3):  # warm-up
        layer(x)[0].sum().backward()
    gc.collect()
    recorder = GCRecorder()
    gc.callbacks.append(recorder)
    try:
        for _ in range(calls):
            layer.zero_grad(set_to_none=True)
            y, _ = layer(x)
            y.sum().backward()
    finally:
        gc.callbacks.remove(recorder)
    return recorder.summary(calls)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", default="ln_lstm,lstm", help="comma-separated cell names (default: ln_lstm,lstm)")
    parser.add_argument("--calls", type=int, default=200, help="training steps timed (default 200)")
    parser.add_argument("--heap", type=int, default=1_000_000, help="long-lived objects held (default 1,000,000)")
    parser.add_argument("--sizes", default="32,100,128,256", help="B,T,I,H (default 32,100,128,256: config A)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    sizes = tuple(int(v) for v in args.sizes.split(","))
    if len(sizes) != 4:
        raise SystemExit(f"--sizes expected B,T,I,H, got {args.sizes!r}")
    heap = [(k, str(k)) for k in range(args.heap)]  # long-lived, GC-tracked objects  # noqa: F841
    gc.collect()
    print(f"<!-- {machine()}; command: python benchmarks/scan_gc.py {' '.join(argv or sys.argv[1:])} -->")
    print(f"{args.calls} training calls, (B, T, I, H) = {sizes}, {args.heap:,} long-lived objects held\n")
    print("| cell | gen-0 collections | gen-1 | gen-2 | calls per gen-2 | gen-2 median ms | gen-0 median ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for cell in args.cells.split(","):
        s = run(cell.strip(), args.calls, sizes)
        print(f"| {cell} | {s[0][0]} | {s[1][0]} | {s[2][0]} | {s[2][1]:.1f} | {s[2][2]:.1f} | {s[0][2]:.3f} |")


if __name__ == "__main__":
    main()
