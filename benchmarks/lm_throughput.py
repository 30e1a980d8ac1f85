"""Training throughput of the LM task against a plain PyTorch loop (pytorch/examples word_language_model style).

Both train the same model (embedding -> 2-layer LSTM -> linear), on the same data (the built-in corpus, char level),
with the same batch, bptt, optimizer and clipping, in this process, alternating runs. Reports tokens/s medians and
the ratio unrolled / plain (target >= 0.95).

    python benchmarks/lm_throughput.py            # full: 5 alternating rounds of 60 steps
    python benchmarks/lm_throughput.py --quick    # under a minute
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from unrolled.data.builtin_corpus import python_stdlib_corpus
from unrolled.data.stream import StreamBatches, batchify
from unrolled.models.language_model import RNNLanguageModel, RNNLMConfig
from unrolled.tasks.lm.objectives import RecurrentLMObjective
from unrolled.train.config import TrainConfig
from unrolled.train.trainer import Trainer


class PlainRNNModel(nn.Module):
    """The pytorch/examples RNNModel: Embedding -> nn.LSTM -> Linear, dropout around the LSTM."""

    def __init__(self, V: int, E: int, H: int, L: int, dropout: float):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(V, E)
        self.rnn = nn.LSTM(E, H, L, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(H, V)

    def forward(self, x, hidden):
        emb = self.drop(self.encoder(x))
        out, hidden = self.rnn(emb, hidden)
        return self.decoder(self.drop(out)), hidden


def plain_loop(model: nn.Module, data: torch.Tensor, bptt: int, steps: int, lr: float, clip: float) -> float:
    """pytorch/examples' train(): repackage hidden, forward, CE, backward, clip, step. Returns tokens/s."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    hidden = None
    tokens = 0
    t0 = time.perf_counter()
    N = data.shape[1]
    i = 0
    for _ in range(steps):
        if i + 1 >= N:
            i, hidden = 0, None
        t = min(bptt, N - 1 - i)
        x, y = data[:, i : i + t], data[:, i + 1 : i + 1 + t]
        i += t
        if hidden is not None:
            hidden = tuple(h.detach() for h in hidden)
        opt.zero_grad()
        logits, hidden = model(x, hidden)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        tokens += y.numel()
    return tokens / (time.perf_counter() - t0)


def unrolled_loop(model: nn.Module, data: torch.Tensor, bptt: int, steps: int, lr: float, clip: float) -> float:
    """The trainer of ``unrolled train lm`` (no run folder, no progress bar): tokens/s over ``steps`` steps."""
    cfg = TrainConfig(
        epochs=1000, max_steps=steps, lr=lr, optimizer="adam", clip_norm=clip, carry_state=True,
        progress=False, plot=False, eval_every="epoch", device="cpu",
    )
    batches = StreamBatches(data, bptt)
    trainer = Trainer(model, RecurrentLMObjective(), cfg)
    t0 = time.perf_counter()
    result = trainer.fit(batches)
    elapsed = time.perf_counter() - t0
    return result.steps * data.shape[0] * bptt / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--bptt", type=int, default=100)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rounds, steps = (2, 15) if args.quick else (5, 60)

    text = python_stdlib_corpus().text
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    data = batchify(ids, args.batch)
    V = len(chars)

    torch.manual_seed(0)
    ours = RNNLanguageModel(V, RNNLMConfig("lstm", args.embed, args.hidden, args.layers, dropout=0.1))
    plain = PlainRNNModel(V, args.embed, args.hidden, args.layers, 0.1)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in plain.parameters())

    # warm-up both
    plain_loop(plain, data, args.bptt, 3, 2e-3, 1.0)
    unrolled_loop(ours, data, args.bptt, 3, 2e-3, 1.0)
    a, b = [], []
    for _ in range(rounds):
        a.append(plain_loop(plain, data, args.bptt, steps, 2e-3, 1.0))
        b.append(unrolled_loop(ours, data, args.bptt, steps, 2e-3, 1.0))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"LM training throughput, char LSTM V={V} E={args.embed} H={args.hidden} L={args.layers} "
          f"B={args.batch} bptt={args.bptt}, {args.threads} threads, {rounds} rounds x {steps} steps")
    print("| loop | tokens/s (median) | runs |")
    print("|---|---|---|")
    print(f"| plain PyTorch (nn.LSTM, pytorch/examples style) | {ma:,.0f} | {', '.join(f'{x:,.0f}' for x in a)} |")
    print(f"| unrolled Trainer + RNNLanguageModel | {mb:,.0f} | {', '.join(f'{x:,.0f}' for x in b)} |")
    print(f"ratio unrolled / plain = {mb / ma:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
