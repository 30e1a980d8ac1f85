"""Speed of the fused Triton kernels (``unrolled.layers.triton``) against the scan path and cuDNN's LSTM, same process.

For each custom cell with a Triton kernel (Elman tanh and relu, leaky, GRU reset before, LN-LSTM, LN-GRU with either
reset, peephole LSTM):
forward+backward time (loss ``y.sum()``, gradients of the input and every parameter) of one direction of one layer
run three ways, ``cell.project_input`` included: the fused Triton kernels (:func:`run_triton`), the scan path
(:func:`scan`), and ``torch.nn.LSTM`` (cuDNN) of the same sizes as the reference. Ratios are medians over rounds
of same-round ratios (``_timing.py``); lower is better, < 1 is faster. ×LSTM is the issue's measure (target: Elman
and leaky <= 1.0, the others <= 1.5).

The kernels keep the recurrent weights on chip (H <= 64), so the default
configurations are sizes where they run; larger H prints "does not fit" (the layer stays on the scan path),
except for Elman and leaky, whose streamed kernels (W and h_{t-1} through the program in tiles every step) are timed
there.

    python benchmarks/triton_cells.py --device cuda                 # configurations S, M, L
    python benchmarks/triton_cells.py --device cuda --configs S --rounds 5
    python benchmarks/triton_cells.py --device cpu --tiny           # smoke run under TRITON_INTERPRET=1 (slow)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved, machine  # noqa: E402
from unrolled.cells.elman import ElmanCell  # noqa: E402
from unrolled.cells.gru import GRUCell  # noqa: E402
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell  # noqa: E402
from unrolled.cells.leaky import LeakyCell  # noqa: E402
from unrolled.cells.lstm import LSTMCell  # noqa: E402
from unrolled.layers.scan import scan  # noqa: E402

CONFIGS = {  # (B, T, I, H)
    "S": (32, 100, 128, 64),
    "M": (64, 200, 128, 64),
    "L": (256, 100, 128, 64),
    "H128": (64, 100, 128, 128),  # Elman and leaky streamed, the rest "does not fit"
    "issue": (32, 100, 128, 256),  # the smallest size: Elman and leaky streamed
    "tiny": (2, 4, 3, 8),
}
#: row label -> cell factory (I, H)
CELLS: dict[str, Callable[[int, int], nn.Module]] = {
    "elman tanh": lambda i, h: ElmanCell(i, h),
    "elman relu": lambda i, h: ElmanCell(i, h, nonlinearity="relu"),
    "leaky": lambda i, h: LeakyCell(i, h, tau_range=(1.0, 10.0)),
    "gru before": lambda i, h: GRUCell(i, h, reset="before"),
    "ln_lstm": lambda i, h: LayerNormLSTMCell(i, h),
    "ln_gru": lambda i, h: LayerNormGRUCell(i, h),
    "ln_gru before": lambda i, h: LayerNormGRUCell(i, h, reset="before"),
    "lstm peephole": lambda i, h: LSTMCell(i, h, peephole=True),
}


def training_step(fn: Callable, cell: nn.Module, x: torch.Tensor, h0, sync: bool) -> Callable[[], None]:
    def run() -> None:
        cell.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = fn(cell, cell.project_input(x), h0)  # (T, B, H)
        y.sum().backward()
        if sync:
            torch.cuda.synchronize()

    return run


def lstm_step(lstm: nn.LSTM, x: torch.Tensor, sync: bool) -> Callable[[], None]:
    def run() -> None:
        lstm.zero_grad(set_to_none=True)
        x.grad = None
        y, _ = lstm(x)
        y.sum().backward()
        if sync:
            torch.cuda.synchronize()

    return run


def run_config(key: str, device: torch.device, rounds: int) -> str:
    from unrolled.layers.triton import run_triton, triton_kernel

    B, T, I, H = CONFIGS[key]
    torch.manual_seed(0)
    sync = device.type == "cuda"
    x = torch.randn(T, B, I, device=device, requires_grad=True)
    candidates: dict[str, Callable[[], None]] = {"nn.LSTM": lstm_step(nn.LSTM(I, H).to(device), x, sync)}
    fits: dict[str, bool] = {}
    for label, make in CELLS.items():
        cell = make(I, H).to(device)
        kernel = triton_kernel(cell)
        fits[label] = kernel.fits() or kernel.streams  # Elman and leaky stream W when it does not fit on chip
        state0 = cell.init_state(B, device)
        candidates[label + " scan"] = training_step(scan, cell, x, state0, sync)
        if fits[label]:
            candidates[label + " triton"] = training_step(run_triton, cell, x, state0, sync)
    timings = interleaved(candidates, rounds, warmup=2)
    lines = [
        f"config {key}: B={B} T={T} I={I} H={H}, forward+backward, {rounds} rounds, device {device}",
        f"  nn.LSTM: {timings.median('nn.LSTM') * 1e3:.2f} ms",
        "| cell | scan ms | triton ms | triton ×nn.LSTM | triton ×scan | scan ×nn.LSTM |",
        "|---|---|---|---|---|---|",
    ]
    for label in CELLS:
        scan_ms = timings.median(label + " scan") * 1e3
        scan_x = timings.ratio(label + " scan", "nn.LSTM")
        if not fits[label]:
            lines.append(f"| {label} | {scan_ms:.2f} | does not fit | - | - | {scan_x:.2f} |")
            continue
        name = label + " triton"
        lines.append(
            f"| {label} | {scan_ms:.2f} | {timings.median(name) * 1e3:.2f} | {timings.ratio(name, 'nn.LSTM'):.2f} "
            f"| {timings.ratio(name, label + ' scan'):.2f} | {scan_x:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (only with --tiny, interpreted)")
    parser.add_argument(
        "--configs", default=None, help=f"comma-separated subset of {','.join(CONFIGS)} (default S,M,L)"
    )
    parser.add_argument("--rounds", type=int, default=10, help="timed rounds (default 10)")
    parser.add_argument("--tiny", action="store_true", help="config tiny only, 2 rounds (a smoke run)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cpu":
        if not args.tiny:
            parser.error("--device cpu runs Triton's interpreter, far too slow for real sizes; add --tiny")
        os.environ["TRITON_INTERPRET"] = "1"  # before the first kernel module is imported
    elif device.type != "cuda" or not torch.cuda.is_available():
        parser.error(f"--device {args.device}: expected cuda on a machine with a GPU (or cpu with --tiny)")
    keys = ["tiny"] if args.tiny else (args.configs or "S,M,L").split(",")
    unknown = [k for k in keys if k not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; expected some of {list(CONFIGS)}")
    rounds = 2 if args.tiny else args.rounds
    print(machine() if device.type == "cpu" else f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    for key in keys:
        print(run_config(key, device, rounds))


if __name__ == "__main__":
    main()
