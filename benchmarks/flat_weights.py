"""Flat weights on the fused path (issue 14): the same layer with its weights as views into one buffer per layer
(what ``Recurrent`` does now) against the same weights as separate tensors and no flatness check (before), in the
same process, interleaved. On CUDA the separate layout is what made cuDNN compact the weights at every call.

Prints per cell and direction count the median over rounds of the same-round time ratio flat / separate for
inference (``no_grad``) and a training step (forward + backward), and the cost of the per-call flatness check.

    python benchmarks/flat_weights.py                       # CPU, B=32 T=100 I=128 H=256, 9 rounds
    python benchmarks/flat_weights.py --device cuda --sizes 32,100,128,256 64,200,256,512 256,100,512,1024
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import machine  # noqa: E402
from unrolled import Recurrent  # noqa: E402
from unrolled.layers.fused import kernel_weights  # noqa: E402

CELLS = (("lstm", False), ("lstm", True), ("gru", False), ("elman", False))


def separate(layer: Recurrent) -> Recurrent:
    """The layer as it was before flat weights: every weight its own tensor, no check in forward."""
    with torch.no_grad():
        for p in layer.parameters():
            p.data = p.data.clone()
    layer._kernel_weights = lambda index, cells: kernel_weights(cells)  # type: ignore[method-assign]
    return layer


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def measure(flat: Recurrent, old: Recurrent, x: torch.Tensor, rounds: int, device: torch.device):
    """Median flat / separate time ratios (inference, training step) and the flatness check's µs per call."""

    def fwd(m: Recurrent) -> None:
        with torch.no_grad():
            m(x)

    def step(m: Recurrent) -> None:
        m.zero_grad()
        m(x)[0].sum().backward()

    medians = []
    for run in (fwd, step):
        run(flat), run(old)  # warm-up
        ratios = []
        for r in range(rounds):
            t = {}
            for m in (flat, old) if r % 2 else (old, flat):
                t[id(m)] = timed(lambda m=m, run=run: run(m), device)
            ratios.append(t[id(flat)] / t[id(old)])
        medians.append(statistics.median(ratios))
    cells = list(flat.cells[: flat.num_directions])
    n = 2000
    check = min(timeit.repeat(lambda: flat._kernel_weights(0, cells), number=n, repeat=5)) / n
    bare = min(timeit.repeat(lambda: kernel_weights(cells), number=n, repeat=5)) / n
    return medians[0], medians[1], 1e6 * (check - bare)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", nargs="+", default=["32,100,128,256"], help="B,T,I,H per configuration")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU (default 1)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    print(
        f"<!-- {machine()}; device {device}; {args.rounds} rounds; command: "
        f"python benchmarks/flat_weights.py {' '.join(sys.argv[1:] if argv is None else argv)} -->"
    )
    print("| B, T, I, H | cell | fwd flat / separate | fwd+bwd flat / separate | check µs / layer call |")
    print("|---|---|---:|---:|---:|")
    for size in args.sizes:
        B, T, I, H = (int(v) for v in size.split(","))
        x = torch.randn(B, T, I, device=device)
        for cell, bidirectional in CELLS:
            torch.manual_seed(0)
            flat = Recurrent(cell, I, H, bidirectional=bidirectional, backend="fused").to(device)
            old = Recurrent(cell, I, H, bidirectional=bidirectional, backend="fused").to(device)
            old.load_state_dict(flat.state_dict())
            separate(old)
            assert flat.flat_layers() == [True] and old.flat_layers() == [False]

            fwd_ratio, step_ratio, check_us = measure(flat, old, x, args.rounds, device)
            label = f"{cell}{' bidirectional' if bidirectional else ''}"
            print(f"| {B}, {T}, {I}, {H} | {label} | {fwd_ratio:.3f} | {step_ratio:.3f} | {check_us:.1f} |")


if __name__ == "__main__":
    main()
