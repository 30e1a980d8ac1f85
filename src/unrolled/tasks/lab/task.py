"""``unrolled lab``: the long-term-dependency lab as a top-level command (a package that trains no run folder).

::

    unrolled lab --list
    unrolled lab adding --cell lstm --length 100 [--init chrono] [--regularize pascanu] [--steps N] [--out DIR]
    unrolled lab copy --model ntm --length 10
    unrolled lab compare adding --cells elman,lstm,gru --lengths 10,50,100,200 [--workers 2]

The first form prints the tasks with their chance baselines; the second trains one cell on one task and writes a
report folder (see :mod:`unrolled.tasks.lab.run`); the third runs the grid on a pool of processes and writes one
table and one plot (:mod:`unrolled.tasks.lab.compare`). ``--model ntm`` trains a neural Turing machine instead of
a chain of cells; it refuses ``--cell``, ``--init`` and ``--regularize`` (chain options) and ``compare`` (a grid
of cells) in one line rather than ignoring them. Training uses one torch thread per process: on a shared
machine that is much faster than torch's default thread pool fighting for the same cores.
"""

from __future__ import annotations

from typing import Any

from unrolled.cells import CELLS
from unrolled.data.synthetic import SYNTHETIC_TASKS, get_task
from unrolled.errors import UnrolledError
from unrolled.tasks.lab.compare import run_compare
from unrolled.tasks.lab.run import LAB_MODELS, REGULARIZERS, LabConfig, list_tasks, run_lab
from unrolled.tasks.options import cells
from unrolled.tasks.spec import Command, Option


class LabError(UnrolledError, ValueError):
    """A bad lab command line (one line)."""


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise LabError(f"--{what}: expected comma-separated integers, e.g. 10,50,100, got {text!r}") from None
    if not values:
        raise LabError(f"--{what}: expected at least one value, got {text!r}")
    return values


def _config(opts: dict[str, Any], task: str, **over: Any) -> LabConfig:
    get_task(task)  # the unknown-name error first
    model = opts.get("model") or "chain"
    if model != "chain":
        given = [f"--{o.replace('_', '-')}" for o in ("cell", "init", "regularize") if opts.get(o) is not None]
        if given:
            raise LabError(f"{given[0]} is a chain option; --model {model} does not take it")
    values = {
        "task": task,
        "model": model,
        "cell": opts.get("cell") or "lstm",
        "length": opts.get("length") if opts.get("length") is not None else 50,
        "steps": opts.get("steps") or 500,
        "batch_size": opts.get("batch") or 64,
        "hidden": opts.get("hidden") or 64,
        "lr": opts.get("lr") if opts.get("lr") is not None else 1e-3,
        "init": opts.get("init") or "default",
        "regularize": opts.get("regularize") or "none",
        "reg_weight": opts.get("reg_weight") if opts.get("reg_weight") is not None else 1.0,
        "seed": opts.get("seed") or 0,
        "out": opts.get("out") or f"lab-{task}",
        **over,
    }
    return LabConfig(**values)


def run_command(opts: dict[str, Any]) -> int:
    import torch

    if opts.get("list"):
        print("\n".join(list_tasks()))
        return 0
    target = opts.get("task")
    if target is None:
        raise LabError("expected a task (one of " + ", ".join(SYNTHETIC_TASKS) + "), 'compare TASK' or --list")
    torch.set_num_threads(1)
    if target == "compare":
        name = opts.get("target")
        if (opts.get("model") or "chain") != "chain":
            raise LabError("lab compare: grids chain cells only; run 'unrolled lab TASK --model ntm' instead")
        if name is None:
            raise LabError("lab compare: expected a task, e.g. unrolled lab compare adding --cells elman,lstm")
        grid = [c.strip() for c in (opts.get("cells") or "elman,lstm,gru").split(",") if c.strip()]
        unknown = [c for c in grid if c not in CELLS]
        if unknown:
            raise LabError(f"--cells: unknown cell {unknown[0]!r}; expected names from {', '.join(CELLS)}")
        lengths = _int_list(opts.get("lengths") or "10,50,100,200", "lengths")
        base = _config(opts, name, out=opts.get("out") or f"lab-compare-{name}", length=lengths[0])
        workers = opts.get("workers") or 2
        rows = run_compare(base, grid, lengths, workers=workers)
        for r in rows:
            ten = "yes" if r["beats_chance_10x"] else "no"
            print(
                f"{r['cell']:12s} T={r['length']:<5d} loss {r['valid_loss']:.4g} ({r['ratio_to_baseline']:.3g}x "
                f"chance) 10x: {ten}"
            )
        print(f"table and plot in {base.out}/compare.md, compare.png")
        return 0
    if opts.get("target") is not None:
        raise LabError(f"unexpected argument {opts['target']!r} after the task {target!r}")
    cfg = _config(opts, target)
    metrics = run_lab(cfg)
    print(f"{cfg.task} T={cfg.length}, {metrics['model']}: {metrics['verdict']}")
    print(f"report in {cfg.out}")
    return 0


COMMANDS = (
    Command(
        name="lab",
        help="train cells or an NTM on synthetic long-term tasks (adding, copy, repeat_copy, xor, ...) against chance",
        description=(
            "Train a recurrent cell on a synthetic long-term-dependency task and write a report folder "
            "(metrics, gradient norm vs time step, loss curve, a verdict against the chance baseline); "
            "'unrolled lab compare TASK' runs a grid of cells and lengths; '--list' names the tasks."
        ),
        epilog=(
            "examples:\n  unrolled lab --list\n  unrolled lab adding --cell lstm --length 100 --steps 2000\n"
            "  unrolled lab copy --cell elman --init identity --regularize pascanu --length 50\n"
            "  unrolled lab copy --model ntm --length 10\n"
            "  unrolled lab compare adding --cells elman,lstm,gru --lengths 10,50,100,200"
        ),
        run=run_command,
        options=(
            Option("task", "a task (see --list), or 'compare'", nargs="?", metavar="TASK"),
            Option("target", "with compare: the task", nargs="?", metavar="TASK"),
            Option("--list", "name the tasks with their chance baselines", store_true=True),
            Option(
                "--model",
                "chain (default: a chain of --cell) or ntm (a neural Turing machine)",
                choices=tuple(LAB_MODELS),
            ),
            Option("--cell", "the cell (a registry name)", choices=cells, metavar="CELL"),
            Option("--cells", "compare: comma-separated cells (default elman,lstm,gru)", metavar="CELLS"),
            Option("--length", "the length T (default 50)", type=int, metavar="T"),
            Option("--lengths", "compare: comma-separated lengths (default 10,50,100,200)", metavar="TS"),
            Option("--init", "default, identity (IRNN), orthogonal, chrono or uniform:A", metavar="NAME"),
            Option("--regularize", "the Pascanu et al. 2013 gradient-flow regulariser", choices=REGULARIZERS),
            Option("--reg-weight", "its coefficient (default 1)", type=float, metavar="W"),
            Option("--steps", "optimizer steps (default 500)", type=int, metavar="N"),
            Option("--batch", "sequences per batch (default 64)", type=int, metavar="B"),
            Option("--hidden", "hidden units (default 64)", type=int, metavar="H"),
            Option("--lr", "Adam's learning rate (default 1e-3)", type=float, metavar="LR"),
            Option("--seed", "seed of the weights and the data (default 0)", type=int, metavar="S"),
            Option("--workers", "compare: parallel processes (default 2)", type=int, metavar="N"),
            Option("--out", "the report folder (default lab-TASK)", metavar="DIR"),
        ),
    ),
)
