"""Speed of every cell in a :class:`unrolled.Recurrent` layer against torch.nn.LSTM / GRU / RNN, same process.

For each cell: forward (inference: ``eval()`` and ``torch.no_grad()``) and forward+backward (training:
loss ``y.sum()``, gradients of every parameter) throughput in tokens/s (B·T per second), and the time ratio
against ``torch.nn.LSTM`` of the same sizes (lower is better; < 1 is faster). Rows marked *auto:* are
``Recurrent`` with the standard cells torch fuses, on ``backend="auto"`` (torch's kernel, or the scan path
where it is faster on CPU). The other rows take the path named in the *path* column (the scan path is forced
for the standard cells, to show it against torch). Rows of a cell torch also computes (LSTM, LSTM with
projection, GRU reset after, Elman tanh and relu) are compared with that torch layer too (×peer: nn.LSTM,
nn.GRU, nn.RNN with the same nonlinearity or projection). Every layer, the
torch references included, runs once per round in rotating order; ratios are medians over rounds of
same-round ratios (see ``_timing.py``).

Configurations: A = (B32, T100, I128, H256), B = (B64, T200, I256, H512).

    python benchmarks/cells.py                 # A and B, 2 threads (a few minutes)
    python benchmarks/cells.py --quick         # A only, fewer rounds (under a minute)
    python benchmarks/cells.py --loop          # also every scan cell on the generic loop, for comparison
    python benchmarks/cells.py --configs A --only "ln_lstm,lstm peephole"   # some rows (nn.LSTM always runs)
    python benchmarks/cells.py --autocast bf16  # every forward under torch.autocast(bfloat16) (see peer_autocast)
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
PROJ = 64  # projection size P of the LSTM-with-projection row
#: torch.nn reference layers by name: the columns ×nn.LSTM always, ×peer for rows that name one
PEERS: dict[str, Callable[[int, int], nn.Module]] = {
    "nn.LSTM": lambda I, H: nn.LSTM(I, H, batch_first=True),
    "nn.GRU": lambda I, H: nn.GRU(I, H, batch_first=True),
    "nn.RNN": lambda I, H: nn.RNN(I, H, batch_first=True),
    "nn.RNN relu": lambda I, H: nn.RNN(I, H, nonlinearity="relu", batch_first=True),
    "nn.LSTM proj": lambda I, H: nn.LSTM(I, H, proj_size=PROJ, batch_first=True),
}
COLUMNS = ("fwd tok/s", "fwd ×nn.LSTM", "fwd+bwd tok/s", "fwd+bwd ×nn.LSTM", "×peer fwd", "×peer fwd+bwd")
HEADER = "| layer | path | " + " | ".join(COLUMNS) + " |"


@dataclass(frozen=True)
class Row:
    """One benchmarked layer: a Recurrent built from ``cell`` with ``kwargs``, compared with ``peer``."""

    label: str
    cell: str
    kwargs: dict = field(default_factory=dict)
    peer: str | None = None  # key of PEERS: the torch.nn layer computing the same function


ROWS = (
    Row("elman tanh", "elman", {"backend": "scan"}, "nn.RNN"),
    Row("elman relu", "elman", {"nonlinearity": "relu", "backend": "scan"}, "nn.RNN relu"),
    Row("elman sigmoid", "elman", {"nonlinearity": "sigmoid"}),
    Row("lstm", "lstm", {"backend": "scan"}, "nn.LSTM"),
    Row("lstm proj_size", "lstm", {"proj_size": PROJ}, "nn.LSTM proj"),
    Row("gru (reset after)", "gru", {"backend": "scan"}, "nn.GRU"),
    Row("gru (reset before)", "gru_before"),
    Row("leaky (fixed tau)", "leaky", {"tau_range": (1.0, 10.0)}),
    Row("leaky (learned tau)", "leaky", {"tau_range": (1.0, 10.0), "learn_tau": True}),
    Row("jordan", "jordan"),
    Row("lstm peephole", "lstm", {"peephole": True}),
    Row("ln_lstm", "ln_lstm"),
    Row("ln_gru", "ln_gru"),
    Row("auto: lstm", "lstm", {}, "nn.LSTM"),
    Row("auto: gru", "gru", {}, "nn.GRU"),
    Row("auto: elman tanh", "elman", {}, "nn.RNN"),
    Row("auto: elman relu", "elman", {"nonlinearity": "relu"}, "nn.RNN relu"),
)
SCAN_ROWS = (
    "elman tanh",
    "elman relu",
    "elman sigmoid",
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


#: --autocast: name -> the autocast dtype every layer's forward runs under (None: off)
AUTOCAST = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def peer_autocast(autocast: torch.dtype | None) -> torch.dtype | None:
    """The autocast the torch.nn peers run under: ``autocast``, except on a CPU without oneDNN's bfloat16 / float16
    instructions, where torch's LSTM kernel under autocast fails ("could not create a primitive descriptor"):
    there the peers run in float32 (and the table's header says so)."""
    if autocast is None:
        return None
    mkldnn = torch.ops.mkldnn
    supported = mkldnn._is_mkldnn_fp16_supported if autocast == torch.float16 else mkldnn._is_mkldnn_bf16_supported
    return autocast if supported() else None


def runners(
    module: nn.Module, x: Tensor, autocast: torch.dtype | None = None
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(forward, forward+backward) closures for one module, forwards under ``torch.autocast(autocast)`` if set."""

    def region():
        return torch.autocast(x.device.type, dtype=autocast, enabled=autocast is not None)

    def forward() -> None:
        module.eval()
        with torch.no_grad(), region():
            module(x)

    def forward_backward() -> None:
        module.train()
        module.zero_grad(set_to_none=True)
        with region():
            y, _ = module(x)
        y.float().sum().backward()

    return forward, forward_backward


def build(rows: list[Row], B: int, I: int, H: int, with_loop: bool) -> dict[str, tuple[nn.Module, str]]:
    layers: dict[str, tuple[nn.Module, str]] = {}
    for name in ("nn.LSTM", *dict.fromkeys(row.peer for row in rows if row.peer)):  # the peers these rows need
        layers[name] = (PEERS[name](I, H), "torch")
    for row in rows:
        layer = Recurrent(row.cell, I, H, **row.kwargs)
        layers[row.label] = (layer, path_of(layer, B))
        if with_loop and row.label in SCAN_ROWS:
            kwargs = {**row.kwargs, "backend": "loop"}
            loop = Recurrent(row.cell, I, H, **kwargs)
            layers[row.label + " [loop]"] = (loop, path_of(loop, B))
    return layers


def _autocast_note(autocast: torch.dtype | None) -> str:
    if autocast is None:
        return ""
    peers = "" if peer_autocast(autocast) == autocast else " (torch.nn peers in float32: no oneDNN support here)"
    return f", Recurrent under autocast {autocast}{peers}"


def run_config(key: str, rows: list[Row], rounds: int, with_loop: bool, autocast: torch.dtype | None = None) -> str:
    B, T, I, H = CONFIGS[key]
    torch.manual_seed(0)
    x = torch.randn(B, T, I)
    layers = build(rows, B, I, H, with_loop)
    peers = {row.label: row.peer for row in rows if row.peer}
    tokens = B * T
    lines = [
        f"### Config {key}: B={B}, T={T}, I={I}, H={H}" + _autocast_note(autocast),
        "",
        HEADER,
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    results = {}
    for mode in (0, 1):  # forward, forward+backward
        fns = {
            name: runners(module, x, peer_autocast(autocast) if path == "torch" else autocast)[mode]
            for name, (module, path) in layers.items()
        }
        results[mode] = interleaved(fns, repeats=rounds, warmup=1)
    for name, (_, path) in layers.items():
        cells = []
        for mode in (0, 1):
            tm = results[mode]
            cells += [f"{tokens / tm.median(name):,.0f}", f"{tm.ratio(name, 'nn.LSTM'):.2f}"]
        peer = peers.get(name.removesuffix(" [loop]"))
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
    parser.add_argument(
        "--autocast", choices=sorted(AUTOCAST), default="off", help="run every forward under torch.autocast"
    )
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
        print(run_config(key, rows, rounds, args.loop, AUTOCAST[args.autocast]))


if __name__ == "__main__":
    main()
