"""English -> French on the Tatoeba pairs (/work/shared/data/eng-fra/eng-fra.txt), the last 10% held out: BLEU
(sacrebleu) with each of the six attention scores and without attention, greedy (beam 1) and beam 5, and the
training time of each model. Every model gets the same number of optimizer steps (``--steps``, default 300, same
seed, same batches), so the rows differ only in the attention score, whatever the machine's load; ``--budget``
optionally caps each model's training seconds as well (a capped model reports fewer steps). The figures compare
the scores after a fixed, short training, they are not converged translation quality.

    python benchmarks/seq2seq_eng_fra.py                    # 7 models x 300 steps
    python benchmarks/seq2seq_eng_fra.py --steps 2000       # longer
    python benchmarks/seq2seq_eng_fra.py --steps 2000 --budget 600   # and at most 600 s per model
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _seq2seq import build, score, train, vocab_of  # noqa: E402
from _timing import machine, set_threads  # noqa: E402
from unrolled.data.pairs import read_pairs_tsv, split_pairs  # noqa: E402
from unrolled.text.tokenize import WordTokenizer  # noqa: E402

DATA = Path("/work/shared/data/eng-fra/eng-fra.txt")
MODELS = {
    "cosine": {"context": "attention", "attention": "cosine"},
    "additive": {"context": "attention", "attention": "additive"},
    "location": {"context": "attention", "attention": "location"},
    "general": {"context": "attention", "attention": "general"},
    "dot": {"context": "attention", "attention": "dot"},
    "scaled_dot": {"context": "attention", "attention": "scaled_dot"},
    "none (C every step)": {"context": "every_step", "attention": "none"},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--steps", type=int, default=300, help="optimizer steps per model (default 300)")
    p.add_argument("--budget", type=float, default=None, help="optional cap on training seconds per model")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--only", choices=sorted(MODELS), action="append")
    args = p.parse_args(argv)
    if args.steps < 1:
        p.error(f"--steps must be a positive integer, got {args.steps}")
    if args.budget is not None and args.budget <= 0:
        p.error(f"--budget must be a positive number of seconds, got {args.budget}")
    set_threads(args.threads)
    print(machine())
    word = WordTokenizer()

    def tok(s):
        return word.tokenize(s.lower())

    pairs = read_pairs_tsv(args.data)
    train_pairs, test_pairs = split_pairs(pairs, 0.1)
    test_pairs = [(s, word.detokenize(tok(t))) for s, t in test_pairs]  # references as the model writes them
    sv, tv = vocab_of([s for s, _ in train_pairs], tok), vocab_of([t for _, t in train_pairs], tok)
    print(f"{args.data}: {len(train_pairs)} training pairs, the last {len(test_pairs)} held out; word tokens, "
          f"lower-cased; vocabularies {len(sv)} -> {len(tv)}; bidirectional LSTM E={args.embed} H={args.hidden}; "
          f"{args.steps} steps per model" + (f" (capped at {args.budget:.0f} s)" if args.budget else ""))  # fmt: skip
    print(
        f"{'attention':22s} {'BLEU b1':>8s} {'BLEU b5':>8s} {'chrF b5':>8s} {'train s':>8s} {'epochs':>6s}"
        f" {'steps':>6s} {'train cpu s':>11s} {'decode s':>8s}"
    )
    for name in args.only or MODELS:
        torch.manual_seed(0)
        model = build(sv, tv, embed_dim=args.embed, hidden=args.hidden, dropout=0.1, **MODELS[name])
        cpu = time.process_time()
        secs, epochs, steps, _ = train(
            model, train_pairs, sv, tv, tok, tok, args.budget, batch_size=32, lr=2e-3, max_steps=args.steps
        )
        cpu = time.process_time() - cpu  # CPU seconds of training: what a loaded machine's wall clock hides
        start = time.perf_counter()
        b1 = score(model, test_pairs, sv, tv, tok, word.detokenize, beam=1, max_len=20)
        b5 = score(model, test_pairs, sv, tv, tok, word.detokenize, beam=5, max_len=20)
        decode_s = time.perf_counter() - start
        print(f"{name:22s} {b1['bleu']:8.2f} {b5['bleu']:8.2f} {b5['chrf']:8.2f} {secs:8.0f} {epochs:6d} {steps:6d}"
              f" {cpu:11.0f} {decode_s:8.0f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
