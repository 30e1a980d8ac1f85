"""Speed of every cell in a :class:`unrolled.Recurrent` layer against torch.nn.LSTM / GRU / RNN, same process.

For each cell: forward (inference: ``eval()`` and ``torch.no_grad()``) and forward+backward (training:
loss ``y.sum()``, gradients of every parameter) throughput in tokens/s (B·T per second), and the time ratio
against ``torch.nn.LSTM`` of the same sizes (lower is better; < 1 is faster). Rows marked *auto:* are
``Recurrent`` with the standard cells torch fuses, on ``backend="auto"`` (torch's kernel, or the scan path
where it is faster on CPU); they are also compared with their own torch peer (nn.LSTM, nn.GRU, nn.RNN).
The other rows force the scan path for the standard cells, to show it against nn.LSTM. Every layer, the
torch references included, runs once per round in rotating order; ratios are medians over rounds of
same-round ratios (see ``_timing.py``).

Configurations: A = (B32, T100, I128, H256), B = (B64, T200, I256, H512).

    python benchmarks/cells.py                 # A and B, 2 threads (a few minutes)
    python benchmarks/cells.py --quick         # A only, fewer rounds (under a minute)
    python benchmarks/cells.py --loop          # also every scan cell on the generic loop, for comparison
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved, machine, set_threads  # noqa: E402
from unrolled import Recurrent  # noqa: E402

CONFIGS = {"A": (32, 100, 128, 256), "B": (64, 200, 256, 512)}  # (B, T, I, H)
COLUMNS = ("fwd tok/s", "fwd ×nn.LSTM", "fwd+bwd tok/s", "fwd+bwd ×nn.LSTM", "×peer fwd", "×peer fwd+bwd")
HEADER = "| layer | path | " + " | ".join(COLUMNS) + " |"


@dataclass(frozen=True)
class Row:
    """One benchmarked layer: a Recurrent built from ``cell`` with ``kwargs``, compared with ``peer``."""

    label: str
    cell: str
    kwargs: dict = field(default_factory=dict)
    peer: str | None = None  # torch.nn module name for fused-equivalent rows


ROWS = (
    Row("elman tanh", "elman", {"backend": "scan"}),
    Row("lstm", "lstm", {"backend": "scan"}),
    Row("gru (reset after)", "gru", {"backend": "scan"}),
    Row("gru (reset before)", "gru_before"),
    Row("leaky (fixed tau)", "leaky", {"tau_range": (1.0, 10.0)}),
    Row("leaky (learned tau)", "leaky", {"tau_range": (1.0, 10.0), "learn_tau": True}),
    Row("jordan", "jordan"),
    Row("lstm peephole", "lstm", {"peephole": True}),
    Row("ln_lstm", "ln_lstm"),
    Row("ln_gru", "ln_gru"),
    Row("auto: lstm", "lstm", {}, "LSTM"),
    Row("auto: gru", "gru", {}, "GRU"),
    Row("auto: elman tanh", "elman", {}, "RNN"),
)
SCAN_ROWS = (
    "elman tanh",
    "lstm",
    "gru (reset after)",
    "gru (reset before)",
    "leaky (fixed tau)",
    "leaky (learned tau)",
    "lstm peephole",
    "ln_lstm",
    "ln_gru",
)


def path_of(layer: Recurrent, batch: int) -> str:
    """What runs: one name, or "inference / training" when they differ (e.g. GRU on CPU)."""
    inference, training = (layer.paths("cpu", grad=g, batch=batch)[0] for g in (False, True))
    return inference if inference == training else f"{inference} / {training}"


def runners(module: nn.Module, x: Tensor) -> tuple[Callable[[], None], Callable[[], None]]:
    """(forward, forward+backward) closures for one module."""

    def forward() -> None:
        module.eval()
        with torch.no_grad():
            module(x)

    def forward_backward() -> None:
        module.train()
        module.zero_grad(set_to_none=True)
        y, _ = module(x)
        y.sum().backward()

    return forward, forward_backward


def build(rows: list[Row], B: int, I: int, H: int, with_loop: bool) -> dict[str, tuple[nn.Module, str]]:
    layers: dict[str, tuple[nn.Module, str]] = {}
    for name in ("LSTM", "GRU", "RNN"):
        layers[f"nn.{name}"] = (getattr(nn, name)(I, H, batch_first=True), "torch")
    for row in rows:
        layer = Recurrent(row.cell, I, H, **row.kwargs)
        layers[row.label] = (layer, path_of(layer, B))
        if with_loop and row.label in SCAN_ROWS:
            kwargs = {**row.kwargs, "backend": "loop"}
            loop = Recurrent(row.cell, I, H, **kwargs)
            layers[row.label + " [loop]"] = (loop, path_of(loop, B))
    return layers


def run_config(key: str, rows: list[Row], rounds: int, with_loop: bool) -> str:
    B, T, I, H = CONFIGS[key]
    torch.manual_seed(0)
    x = torch.randn(B, T, I)
    layers = build(rows, B, I, H, with_loop)
    peers = {row.label: f"nn.{row.peer}" for row in rows if row.peer}
    tokens = B * T
    lines = [
        f"### Config {key}: B={B}, T={T}, I={I}, H={H}",
        "",
        HEADER,
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    results = {}
    for mode in (0, 1):  # forward, forward+backward
        fns = {name: runners(module, x)[mode] for name, (module, _) in layers.items()}
        results[mode] = interleaved(fns, repeats=rounds, warmup=1)
    for name, (_, path) in layers.items():
        cells = []
        for mode in (0, 1):
            tm = results[mode]
            cells += [f"{tokens / tm.median(name):,.0f}", f"{tm.ratio(name, 'nn.LSTM'):.2f}"]
        peer = peers.get(name)
        if peer is not None:
            cells += [f"{results[m].ratio(name, peer):.2f}" for m in (0, 1)]
        else:
            cells += ["", ""]
        lines.append(f"| {name} | {path} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="config A only, 3 rounds (under a minute)")
    parser.add_argument("--configs", default=None, help="subset of A,B, comma-separated (quick: A)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 7; quick: 3)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--loop", action="store_true", help="also time every scan cell on the generic loop")
    parser.add_argument("--only", default=None, help="comma-separated row labels to run (default: all)")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    configs = (args.configs or ("A" if args.quick else "A,B")).split(",")
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown config {unknown[0]!r}; expected one of {sorted(CONFIGS)}")
    rows = list(ROWS)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        missing = [w for w in wanted if w not in {r.label for r in ROWS}]
        if missing:
            parser.error(f"unknown row {missing[0]!r}; expected labels from {[r.label for r in ROWS]}")
        rows = [r for r in ROWS if r.label in wanted]
    rounds = args.rounds or (3 if args.quick else 7)
    command = "python benchmarks/cells.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"<!-- {machine()}; {rounds} rounds; command: {command} -->")
    for key in configs:
        print()
        print(run_config(key, rows, rounds, args.loop))


if __name__ == "__main__":
    main()
