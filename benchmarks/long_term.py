"""Long-term dependencies: which cells beat chance by 10x on the adding problem and copy-memory, and how fast.

For each task, length T and cell variant, one lab run (:func:`unrolled.tasks.lab.run.run_lab`: Adam, gradient
clipping at norm 1, a fixed validation set) records the validation loss, its ratio to the chance baseline
(adding: MSE 1/6; copy: 10 ln 8 / (T+20) nats per step) and the first evaluated step below baseline / 10. Runs go
two at a time (a process pool of 2, one torch thread each: both cores of the reference machine).

    python benchmarks/long_term.py                 # reduced grid: T = 10, 50; elman, irnn, lstm, gru; 400 steps
    python benchmarks/long_term.py --full          # T = 10, 50, 100, 200; every variant below; 2000 steps
    python benchmarks/long_term.py --full --workers 1 --max-seconds 240 --csv /tmp/lt.csv   # capped, resumable
    python benchmarks/long_term.py --target        # only: LSTM (chrono init), adding, T = 100, MSE < 0.01 (5-min cap)
    python benchmarks/long_term.py --digits        # only: permuted pixel digits (T = 64), LSTM and GRU

Variants: elman (tanh), irnn (ReLU Elman with identity recurrence, Le et al. 2015), lstm, gru (reset after),
gru_before, leaky, elman / irnn with the Pascanu et al. 2013 regulariser (``+pascanu``), and, in the full grid at
T >= 100 only, lstm / gru with chrono initialisation (``+chrono``, Tallec & Ollivier 2018, T_max = T).

The full grid stops each run at its first validation below chance / 10 (only the steps to get there are asked
for), caps each run at ``--max-seconds`` of training, and runs the cells in priority order (adding at T = 100,
200 for the gated cells, the IRNN and leaky first; then copy at T = 50, 100; then the Pascanu variants; then
the rest). With ``--csv`` each run is appended as a row the moment it finishes, so a partial grid is usable, and
``--resume`` skips the (task, T, variant) rows already in the CSV; a run stopped by ``kill`` / Ctrl-C (the trainer
stops gracefully) is not recorded and ends the grid. ``--table CSV`` prints the markdown table of a CSV and the
full grid's missing runs, without training.
Target of issue 11: LSTM reaches MSE < 0.01 on the adding problem at T = 100 in under 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
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
    "lstm+chrono": {"cell": "lstm", "init": "chrono"},
    "gru+chrono": {"cell": "gru", "init": "chrono"},
}
REDUCED = ("elman", "irnn", "lstm", "gru")
PLAIN = ("elman", "irnn", "lstm", "gru", "gru_before", "leaky", "elman+pascanu", "irnn+pascanu")
CHRONO = ("lstm+chrono", "gru+chrono")
#: the full grid's priority tiers: (tasks, lengths, variants); later tiers add only the cells not yet listed
PRIORITY = (
    (("adding",), (100, 200), ("lstm", "gru", "gru_before", "irnn", "leaky") + CHRONO),
    (("copy",), (50, 100), ("lstm", "gru", "gru_before", "irnn", "leaky") + CHRONO),
    (("adding", "copy"), (50, 100, 200), ("elman", "elman+pascanu", "irnn+pascanu")),
    (("adding", "copy"), (10, 50, 100, 200), PLAIN + CHRONO),
)
CSV_FIELDS = (
    "task",
    "T",
    "variant",
    "valid_loss",
    "ratio",
    "beats_10x",
    "steps_to_10x",
    "seconds_to_10x",
    "steps",
    "max_steps",
    "seconds",
    "stopped",
)


def _run(args: tuple[str, dict]) -> tuple[str, dict]:
    """One run; a run whose loss or gradient became NaN/inf is a row (``stopped`` = ``diverged``), not a crash."""
    import torch

    from unrolled.train import TrainingDiverged

    torch.set_num_threads(1)
    name, cfg = args
    t0 = time.perf_counter()
    try:
        return name, run_lab(LabConfig(**cfg))
    except TrainingDiverged as e:
        step = re.search(r"at step (\d+)", str(e))
        nan = float("nan")
        return name, {
            "task": cfg["task"],
            "length": cfg["length"],
            "valid_loss": nan,
            "ratio_to_baseline": nan,
            "beats_chance_10x": False,
            "steps_to_10x": None,
            "seconds_to_10x": None,
            "steps": int(step.group(1)) if step else "",
            "seconds": time.perf_counter() - t0,
            "stopped": "diverged",
            "config": cfg,
            "error": str(e),
        }


def full_grid(tasks: tuple[str, ...], lengths: tuple[int, ...], names: tuple[str, ...]) -> list[tuple[str, int, str]]:
    """The (task, T, variant) cells of the full grid in priority order (:data:`PRIORITY`), each once; chrono
    variants only at T >= 100, where the default gate biases are the known weak point."""
    seen: dict[tuple[str, int, str], None] = {}
    for tier_tasks, tier_lengths, tier_names in PRIORITY:
        for task in tier_tasks:
            for T in tier_lengths:
                for name in tier_names:
                    if task in tasks and T in lengths and name in names and (name not in CHRONO or T >= 100):
                        seen.setdefault((task, T, name), None)
    return list(seen)


def csv_row(name: str, m: dict) -> dict:
    """The CSV row of one finished run."""
    return {
        "task": m["task"],
        "T": m["length"],
        "variant": name,
        "valid_loss": f"{m['valid_loss']:.6g}",
        "ratio": f"{m['ratio_to_baseline']:.4g}",
        "beats_10x": "yes" if m["beats_chance_10x"] or m["steps_to_10x"] is not None else "no",
        "steps_to_10x": "" if m["steps_to_10x"] is None else m["steps_to_10x"],
        "seconds_to_10x": "" if m.get("seconds_to_10x") is None else f"{m['seconds_to_10x']:.0f}",
        "steps": m["steps"],
        "max_steps": m["config"]["steps"],
        "seconds": f"{m['seconds']:.0f}",
        "stopped": m.get("stopped", ""),
    }


def read_csv(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def append_csv(path: Path, row: dict) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)
        f.flush()


def table(rows: list[dict]) -> list[str]:
    """Markdown lines: one row per run, in the CSV's order."""
    lines = [
        "| task | T | cell | valid loss | loss / chance | 10x below chance | steps to 10x | s to 10x | steps run "
        "| seconds | stopped by |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['T']} | {r['variant']} | {float(r['valid_loss']):.4g} | {float(r['ratio']):.3g} "
            f"| {r['beats_10x']} | {r['steps_to_10x'] or '-'} | {r['seconds_to_10x'] or '-'} | {r['steps']} "
            f"| {r['seconds']} | {r['stopped']} |"
        )
    return lines


def _pool(jobs: list[tuple[str, dict]], workers: int, on_done=None) -> list[tuple[str, dict]]:
    """Run the jobs; ``on_done(name, metrics)`` is called as each one finishes (in completion order)."""
    results = []
    if workers <= 1:
        for j in jobs:
            results.append(_run(j))
            if on_done:
                on_done(*results[-1])
        return results
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run, j) for j in jobs]
        for fut in as_completed(futures):
            results.append(fut.result())
            if on_done:
                on_done(*results[-1])
    return results


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
    p.add_argument("--csv", default=None, help="append one row per finished run to this CSV")
    p.add_argument("--resume", action="store_true", help="skip the (task, T, variant) rows already in --csv")
    p.add_argument("--max-seconds", type=float, default=None, help="cap each run's training at this many seconds")
    p.add_argument("--no-stop", action="store_true", help="--full: train all steps even after reaching 10x")
    p.add_argument("--table", default=None, metavar="CSV", help="print the markdown table of CSV and exit")
    a = p.parse_args()
    if a.table:
        rows = read_csv(Path(a.table))
        print("\n".join(table(rows)))
        grid = full_grid(
            tuple(a.tasks.split(",")),
            tuple(int(v) for v in a.lengths.split(",")) if a.lengths else (10, 50, 100, 200),
            tuple(a.variants.split(",")) if a.variants else tuple(VARIANTS),
        )
        have = {(r["task"], int(r["T"]), r["variant"]) for r in rows}
        missing = [f"{task} T={T} {name}" for task, T, name in grid if (task, T, name) not in have]
        print(f"\n{len(rows)} of {len(grid)} runs of the full grid done; missing ({len(missing)}):")
        print("; ".join(missing))
        return 0
    if a.resume and not a.csv:
        p.error("--resume needs --csv (the rows already finished)")
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
        tasks = tuple(a.tasks.split(","))
        if a.full:
            cells = full_grid(tasks, lengths, names)
        else:
            cells = [(task, T, name) for task in tasks for T in lengths for name in names]
        done = {(r["task"], int(r["T"]), r["variant"]) for r in read_csv(Path(a.csv))} if a.resume else set()
        for task, T, name in cells:
            if (task, T, name) in done:
                continue
            cfg = dict(
                task=task,
                length=T,
                steps=steps,
                lr=3e-3,
                batch_size=32,
                hidden=64,
                max_time=a.max_seconds,
                stop_at_10x=a.full and not a.no_stop,
                out=str(root / f"{task}-T{T}-{name}"),
                **VARIANTS[name],
            )
            jobs.append((name, cfg))
        if done:
            print(f"resume: {len(done)} rows already in {a.csv}, {len(jobs)} runs to go", flush=True)
    if a.max_seconds is not None:
        for _, cfg in jobs:
            cfg["max_time"] = a.max_seconds

    def finished(name: str, m: dict) -> None:
        if m.get("stopped") == "interrupted":  # kill / Ctrl-C: the trainer stopped gracefully; so does the grid
            print(f"interrupted: {m['task']} T={m['length']} {name} not recorded (--resume reruns it)", flush=True)
            raise SystemExit(130)
        print(_row(name, m), flush=True)
        if a.csv:
            append_csv(Path(a.csv), csv_row(name, m))

    print("| task | T | cell | valid loss | loss / chance | 10x below chance | steps to 10x | seconds |", flush=True)
    print("|---|---|---|---|---|---|---|---|", flush=True)
    results = _pool(jobs, a.workers, finished)
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
