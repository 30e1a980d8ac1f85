"""Date normalisation (human dates -> ISO 8601): exact match on held-out dates after a fixed training time.

Issue 7 target: >= 99% exact match within 5 minutes on 2 CPU cores, for additive and for general attention;
no-attention (C at every step) and C-as-initial-state variants are reported beside them.

    python benchmarks/seq2seq_dates.py                 # 300 s per model (the target's budget), 4 models
    python benchmarks/seq2seq_dates.py --budget 60     # a quick look
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _seq2seq import build, score, train, vocab_of  # noqa: E402
from _timing import machine, set_threads  # noqa: E402
from unrolled.data.synthetic_pairs import make_pairs  # noqa: E402

VARIANTS = {
    "attention additive": {"context": "attention", "attention": "additive"},
    "attention general": {"context": "attention", "attention": "general"},
    "C every step (no attention)": {"context": "every_step", "attention": "none"},
    "C initial state": {"context": "init", "attention": "none"},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=300.0, help="training seconds per model (default 300)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train", type=int, default=20000, help="training pairs")
    p.add_argument("--test", type=int, default=1000, help="held-out pairs (dates never seen in training)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    p.add_argument("--only", choices=sorted(VARIANTS), action="append", help="run only these variants")
    args = p.parse_args(argv)
    set_threads(args.threads)
    print(machine())
    pairs = make_pairs("dates", args.train + args.test, seed=0)
    train_pairs, test_pairs = pairs[: args.train], pairs[args.train :]
    seen = {t for _, t in train_pairs}
    test_pairs = [p for p in test_pairs if p[1] not in seen]  # held-out *dates*, not just held-out strings
    tok = list
    sv, tv = vocab_of([s for s, _ in pairs], tok), vocab_of([t for _, t in pairs], tok)
    print(
        f"{len(train_pairs)} training pairs, {len(test_pairs)} held-out pairs with unseen dates; "
        f"budget {args.budget:.0f} s per model"
    )
    print(f"{'model':30s} {'exact match':>12s} {'chrF':>6s} {'train s':>8s} {'epochs':>6s} {'steps':>6s}")
    for name in args.only or VARIANTS:
        torch.manual_seed(0)
        model = build(sv, tv, embed_dim=32, hidden=64, dropout=0.0, **VARIANTS[name])
        secs, epochs, steps, _ = train(model, train_pairs, sv, tv, tok, tok, args.budget, batch_size=64, lr=args.lr)
        s = score(model, test_pairs, sv, tv, tok, "".join, beam=1, max_len=12)
        print(
            f"{name:30s} {100 * s['exact_match']:11.2f}% {s['chrf']:6.1f} {secs:8.0f} {epochs:6d} {steps:6d}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
