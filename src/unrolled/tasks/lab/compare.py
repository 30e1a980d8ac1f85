"""``unrolled lab compare``: the grid of cells x lengths on one task, run on a pool of processes.

Each cell of the grid is one :func:`~unrolled.tasks.lab.run.run_lab` in its own report folder
``OUT/CELL-T<length>``; the pool has ``workers`` processes of one torch thread each (2 = both cores of a 2-core
machine). The comparison writes ``compare.csv`` and ``compare.md`` (one row per cell and length: loss, ratio to
the baseline, 10x verdict, steps to 10x, seconds) and ``compare.png`` (loss / baseline against T, one line per
cell, log scale, the 10x line dashed).
"""

from __future__ import annotations

import csv
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from unrolled.tasks.lab.run import TEN_X, LabConfig, run_lab

COLUMNS = (
    "cell",
    "length",
    "valid_loss",
    "baseline",
    "ratio_to_baseline",
    "beats_chance_10x",
    "steps_to_10x",
    "accuracy",
    "seconds",
)


def _one(cfg: LabConfig) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    return run_lab(cfg)


def grid_configs(base: LabConfig, cells: list[str], lengths: list[int]) -> list[LabConfig]:
    """One checked config per (cell, length), each writing under ``base.out``."""
    out = Path(base.out)
    return [replace(base, cell=c, length=t, out=str(out / f"{c}-T{t}")) for c in cells for t in lengths]


def run_compare(base: LabConfig, cells: list[str], lengths: list[int], workers: int = 2) -> list[dict[str, Any]]:
    """Run the grid, write the table and the plot under ``base.out``, return the rows."""
    configs = grid_configs(base, cells, lengths)  # every config is checked before anything runs
    out = Path(base.out)
    out.mkdir(parents=True, exist_ok=True)
    if workers <= 1:
        results = [_one(c) for c in configs]
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_one, configs))
    rows = [{k: r[k] for k in COLUMNS} for r in results]
    with open(out / "compare.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    (out / "compare.md").write_text(markdown_table(rows, base.task) + "\n")
    plot_compare(rows, out / "compare.png", base.task)
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def markdown_table(rows: list[dict[str, Any]], task: str) -> str:
    head = f"| {' | '.join(COLUMNS)} |"
    sep = "|" + "---|" * len(COLUMNS)
    body = [f"| {' | '.join(_fmt(r[c]) for c in COLUMNS)} |" for r in rows]
    return "\n".join([f"Task {task}: loss against the chance baseline", "", head, sep, *body])


def plot_compare(rows: list[dict[str, Any]], path: Path, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for cell in dict.fromkeys(r["cell"] for r in rows):
        mine = sorted((r for r in rows if r["cell"] == cell), key=lambda r: r["length"])
        ax.plot([r["length"] for r in mine], [r["ratio_to_baseline"] for r in mine], marker="o", label=cell)
    ax.axhline(TEN_X, color="k", ls="--", lw=0.8, label="10x below chance")
    ax.axhline(1.0, color="gray", ls=":", lw=0.8, label="chance")
    ax.set_yscale("log")
    ax.set_xlabel("length T")
    ax.set_ylabel("validation loss / chance baseline")
    ax.set_title(f"{task}: cells against length")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
