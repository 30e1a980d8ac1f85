"""Long-term dependencies: which cells beat chance by 10x on the adding problem and copy-memory, and how fast.

For each task, length T and cell variant, one lab run (:func:`unrolled.tasks.lab.run.run_lab`: Adam, gradient
clipping at norm 1, a fixed validation set) records the validation loss, its ratio to the chance baseline
(adding: MSE 1/6; copy: 10 ln 8 / (T+20) nats per step) and the first evaluated step below baseline / 10. Runs go
two at a time (a process pool of 2, one torch thread each: both cores of the reference machine).

    python benchmarks/long_term.py                 # reduced grid: T = 10, 50; elman, irnn, lstm, gru; 400 steps
    python benchmarks/long_term.py --full          # T = 10, 50, 100, 200; every variant below; 2000 steps
    python benchmarks/long_term.py --target        # only: LSTM (chrono init), adding, T = 100, MSE < 0.01 (5-min cap)
    python benchmarks/long_term.py --digits        # only: permuted pixel digits (T = 64), LSTM and GRU

Variants: elman (tanh), irnn (ReLU Elman with identity recurrence, Le et al. 2015), lstm, gru (reset after),
gru_before, leaky, and elman / irnn with the Pascanu et al. 2013 regulariser (``+pascanu``).
Target of issue 11: LSTM reaches MSE < 0.01 on the adding problem at T = 100 in under 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from unrolled.tasks.lab.run import LabConfig, run_lab

VARIANTS = {
    "elman": {"cell": "elman"},
    "irnn": {"cell": "elman", "init": "identity"},
    "lstm": {"cell": "lstm"},
    "gru": {"cell": "gru"},
    "gru_before": {"cell": "gru_before"},
    "leaky": {"cell": "leaky"},
    "elman+pascanu": {"cell": "elman", "regularize": "pascanu"},
    "irnn+pascanu": {"cell": "elman", "init": "identity", "regularize": "pascanu"},
}
REDUCED = ("elman", "irnn", "lstm", "gru")


def _run(args: tuple[str, dict]) -> tuple[str, dict]:
    import torch

    torch.set_num_threads(1)
    name, cfg = args
    return name, run_lab(LabConfig(**cfg))


def _pool(jobs: list[tuple[str, dict]], workers: int) -> list[tuple[str, dict]]:
    if workers <= 1:
        return [_run(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_run, jobs))


def _row(name: str, m: dict) -> str:
    ten = "yes" if m["beats_chance_10x"] else "no"
    steps = m["steps_to_10x"] if m["steps_to_10x"] is not None else "-"
    return (
        f"| {m['task']} | {m['length']} | {name} | {m['valid_loss']:.4g} | {m['ratio_to_baseline']:.3g} | {ten} "
        f"| {steps} | {m['seconds']:.0f} |"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="T = 10, 50, 100, 200 and every variant, 2000 steps")
    p.add_argument("--target", action="store_true", help="only the LSTM adding T=100 target run")
    p.add_argument("--digits", action="store_true", help="only permuted pixel digits, LSTM and GRU")
    p.add_argument("--steps", type=int, help="optimizer steps per run (default 400, --full 2000)")
    p.add_argument("--tasks", default="adding,copy")
    p.add_argument("--variants", default=None, help=f"comma-separated subset of {', '.join(VARIANTS)}")
    p.add_argument("--lengths", default=None, help="comma-separated lengths (default 10,50; --full 10,50,100,200)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=None, help="report folders (default: a temporary folder)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    a = p.parse_args()
    root = Path(a.out or tempfile.mkdtemp(prefix="long_term-"))
    t0 = time.perf_counter()
    jobs: list[tuple[str, dict]] = []
    if a.target:
        jobs.append(
            (
                "lstm",
                dict(
                    task="adding",
                    cell="lstm",
                    init="chrono",
                    length=100,
                    steps=a.steps or 4000,
                    lr=5e-3,
                    batch_size=32,
                    hidden=64,
                    target_loss=0.01,
                    max_time=300.0,
                    out=str(root / "target"),
                ),
            )
        )
    elif a.digits:
        for cell in ("lstm", "gru"):
            jobs.append(
                (
                    cell,
                    dict(
                        task="digits_permuted",
                        cell=cell,
                        length=64,
                        steps=a.steps or 1500,
                        lr=3e-3,
                        batch_size=64,
                        hidden=64,
                        out=str(root / f"digits-{cell}"),
                    ),
                )
            )
    else:
        lengths = (10, 50, 100, 200) if a.full else (10, 50)
        if a.lengths:
            lengths = tuple(int(v) for v in a.lengths.split(","))
        names = tuple(VARIANTS) if a.full else REDUCED
        if a.variants:
            names = tuple(a.variants.split(","))
            unknown = [n for n in names if n not in VARIANTS]
            if unknown:
                p.error(f"unknown variant {unknown[0]!r}; expected one of {', '.join(VARIANTS)}")
        steps = a.steps or (2000 if a.full else 400)
        for task in a.tasks.split(","):
            for T in lengths:
                for name in names:
                    cfg = dict(
                        task=task,
                        length=T,
                        steps=steps,
                        lr=3e-3,
                        batch_size=32,
                        hidden=64,
                        out=str(root / f"{task}-T{T}-{name}"),
                        **VARIANTS[name],
                    )
                    jobs.append((name, cfg))
    results = _pool(jobs, a.workers)
    print("| task | T | cell | valid loss | loss / chance | 10x below chance | steps to 10x | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in results:
        print(_row(name, m))
    for name, m in results:
        if m.get("target_loss") is not None:
            got = m["seconds_to_target"]
            verdict = f"reached at step {m['steps_to_target']} after {got} s" if got is not None else "not reached"
            print(
                f"target MSE < {m['target_loss']} (adding, T=100, {name}): {verdict}; final MSE {m['valid_loss']:.4g}"
            )
        if m.get("accuracy") is not None and m["task"].startswith("digits"):
            print(
                f"{m['task']} {name}: test accuracy {m['accuracy']:.4f} after {m['steps']} steps ({m['seconds']:.0f} s)"
            )
    print(f"total wall time {time.perf_counter() - t0:.0f} s; reports under {root}")
    if a.json:
        Path(a.json).write_text(json.dumps([{"variant": n, **m} for n, m in results], indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
