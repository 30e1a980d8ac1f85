"""Language-model quality on tiny Shakespeare (char level, last 10% held out), against the baselines.

Trains a 2-layer LSTM with ``unrolled``'s LM task for a fixed wall-clock budget and reports its best validation
loss in nats per character (target <= 1.55 within 20 minutes on 2 CPU cores), next to the n-gram (Kneser-Ney)
and fixed-window (Bengio et al. 2003) baselines scored by the same evaluation code on the same split.

    python benchmarks/lm_quality.py                       # ~20 minutes
    python benchmarks/lm_quality.py --minutes 2 --hidden 128   # a quick look
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

from unrolled.tasks.lm import LMDataConfig, LMModelConfig, LMRunConfig, LMSampleConfig, train_lm
from unrolled.train.config import TrainConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--minutes", type=float, default=18.0, help="wall-clock budget of the LSTM")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=100)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--window-minutes", type=float, default=2.0, help="budget of the fixed-window baseline")
    ap.add_argument("--orders", type=int, nargs="+", default=[3, 5, 7], help="n-gram orders to report")
    ap.add_argument("--skip-lstm", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.data.is_file():
        raise SystemExit(f"lm_quality: {args.data} not found; pass --data PATH to tinyshakespeare/input.txt")

    data = LMDataConfig(path=str(args.data), tokenizer="char", batch_size=args.batch, bptt=args.bptt,
                        valid_fraction=0.1, eval_batch_size=16)
    quiet = LMSampleConfig(length=0)
    rows = []
    root = Path(tempfile.mkdtemp(prefix="lm-quality-"))

    def quiet_print(msg: str) -> None:
        if msg.startswith("corpus") or msg.startswith("model"):
            print(msg, flush=True)

    if not args.skip_lstm:
        cfg = LMRunConfig(
            data=data,
            model=LMModelConfig(cell="lstm", embed_dim=args.embed, hidden=args.hidden, layers=args.layers,
                                dropout=args.dropout),
            train=TrainConfig(epochs=1000, lr=args.lr, optimizer="adam", clip_norm=1.0, carry_state=True,
                              metric="bpc", schedule="plateau", lr_decay=2.0, max_time=args.minutes * 60,
                              eval_every=500, progress=False, plot=True, device="cpu"),
            sample=quiet,
        )
        t0 = time.perf_counter()
        out = train_lm(cfg, run_dir=root / "lstm", printer=quiet_print)
        rows.append((f"LSTM {args.layers}x{args.hidden} (unrolled, {args.minutes:g} min)", out.valid_loss,
                     time.perf_counter() - t0))

    for order in args.orders:
        cfg = LMRunConfig(data=data, model=LMModelConfig(family="ngram", order=order), sample=quiet)
        t0 = time.perf_counter()
        out = train_lm(cfg, run_dir=root / f"ngram{order}", printer=lambda m: None)
        rows.append((f"{order}-gram, interpolated Kneser-Ney", out.valid_loss, time.perf_counter() - t0))

    cfg = LMRunConfig(
        data=data,
        model=LMModelConfig(family="fixed_window", context=16, embed_dim=32, hidden=512, dropout=0.1),
        train=TrainConfig(epochs=1000, lr=2e-3, optimizer="adam", clip_norm=1.0, carry_state=True, metric="bpc",
                          max_time=args.window_minutes * 60, eval_every=500, progress=False, plot=False,
                          device="cpu"),
        sample=quiet,
    )
    t0 = time.perf_counter()
    out = train_lm(cfg, run_dir=root / "window", printer=lambda m: None)
    rows.append((f"fixed window, 16 chars of context ({args.window_minutes:g} min)", out.valid_loss,
                 time.perf_counter() - t0))

    print(f"\ntiny Shakespeare, char level, last 10% validation; {args.threads} threads; runs in {root}")
    print("| model | valid nats/char | bpc | perplexity | wall s |")
    print("|---|---|---|---|---|")
    for name, loss, secs in rows:
        print(f"| {name} | {loss:.4f} | {loss / math.log(2):.4f} | {math.exp(loss):.3f} | {secs:.0f} |")
    if not args.skip_lstm:
        print(f"LSTM target <= 1.55 nats/char: {'met' if rows[0][1] <= 1.55 else 'NOT met'}")


if __name__ == "__main__":
    main()
