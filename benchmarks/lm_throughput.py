"""Training throughput of the LM task against a plain PyTorch loop (pytorch/examples word_language_model style).

Both train the same model (embedding -> 2-layer LSTM -> linear), on the same data (the built-in corpus, char level,
or with ``--word`` a random word stream over a 10k vocabulary), with the same batch, bptt, optimizer and clipping, in
this process, alternating runs. Reports tokens/s medians and the median of the per-round ratios unrolled / plain
(target >= 0.95).

    python benchmarks/lm_throughput.py                   # full: 5 alternating rounds of 60 steps, CPU
    python benchmarks/lm_throughput.py --quick           # under a minute
    python benchmarks/lm_throughput.py --device cuda --word --rounds 7 --steps 300
        # issue 14's GPU case: word-level 2x200 LSTM, V=10k, batch 20 x 20 steps, SGD lr 20, clip 0.25
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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(
    model: nn.Module, data: torch.Tensor, bptt: int, steps: int, lr: float, clip: float, optimizer: str = "adam"
) -> float:
    """pytorch/examples' train(): repackage hidden, forward, CE, backward, clip, step. Returns tokens/s."""
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(model.parameters(), lr=lr)
    model.train()
    hidden = None
    tokens = 0
    _sync(data.device)
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
    _sync(data.device)
    return tokens / (time.perf_counter() - t0)


def unrolled_loop(
    model: nn.Module, data: torch.Tensor, bptt: int, steps: int, lr: float, clip: float, optimizer: str = "adam"
) -> float:
    """The trainer of ``unrolled train lm`` (no run folder, no progress bar): tokens/s over ``steps`` steps."""
    cfg = TrainConfig(
        epochs=1000,
        max_steps=steps,
        lr=lr,
        optimizer=optimizer,
        clip_norm=clip,
        carry_state=True,
        progress=False,
        plot=False,
        eval_every="epoch",
        device=str(data.device),
    )
    batches = StreamBatches(data, bptt)
    trainer = Trainer(model, RecurrentLMObjective(), cfg)
    _sync(data.device)
    t0 = time.perf_counter()
    result = trainer.fit(batches)
    _sync(data.device)
    elapsed = time.perf_counter() - t0
    return result.steps * data.shape[0] * bptt / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (both loops train there)")
    ap.add_argument(
        "--word",
        action="store_true",
        help="word-level preset: random ids over V=10k, E=H=200, 2 layers, B=20, bptt 20, SGD lr 20, "
        "clip 0.25, dropout 0.2 (pytorch/examples word_language_model defaults)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 5, --quick 2)")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default 60, --quick 15)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--bptt", type=int, default=None)
    ap.add_argument("--embed", type=int, default=None)
    ap.add_argument("--hidden", type=int, default=None)
    ap.add_argument("--layers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available on this machine")
    rounds, steps = (2, 15) if args.quick else (5, 60)
    rounds, steps = args.rounds or rounds, args.steps or steps
    if args.word:  # the word-level case of issue 14
        B, bptt, E, H, optimizer, lr, clip, dropout = 20, 20, 200, 200, "sgd", 20.0, 0.25, 0.2
        V = 10_000
        ids = torch.randint(V, (B * bptt * (steps + 1) + 1,), generator=torch.Generator().manual_seed(0))
        what = "word-level LSTM (random ids)"
    else:
        B, bptt, E, H, optimizer, lr, clip, dropout = 32, 100, 64, 256, "adam", 2e-3, 1.0, 0.1
        text = python_stdlib_corpus().text
        chars = sorted(set(text))
        index = {c: i for i, c in enumerate(chars)}
        ids = torch.tensor([index[c] for c in text], dtype=torch.long)
        V = len(chars)
        what = "char LSTM"
    B, bptt = args.batch or B, args.bptt or bptt
    E, H = args.embed or E, args.hidden or H
    data = batchify(ids, B).to(device)

    torch.manual_seed(0)
    ours = RNNLanguageModel(V, RNNLMConfig("lstm", E, H, args.layers, dropout=dropout)).to(device)
    plain = PlainRNNModel(V, E, H, args.layers, dropout).to(device)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in plain.parameters())

    # warm-up both
    plain_loop(plain, data, bptt, 3, lr, clip, optimizer)
    unrolled_loop(ours, data, bptt, 3, lr, clip, optimizer)
    a, b = [], []
    for _ in range(rounds):
        a.append(plain_loop(plain, data, bptt, steps, lr, clip, optimizer))
        b.append(unrolled_loop(ours, data, bptt, steps, lr, clip, optimizer))
    ma, mb = statistics.median(a), statistics.median(b)
    ratio = statistics.median(y / x for x, y in zip(a, b))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(
        f"LM training throughput, {what} V={V} E={E} H={H} L={args.layers} B={B} bptt={bptt}, {optimizer} "
        f"lr {lr:g} clip {clip:g}, {where}, torch {torch.__version__}, {rounds} rounds x {steps} steps"
    )
    print("| loop | tokens/s (median) | runs |")
    print("|---|---|---|")
    print(f"| plain PyTorch (nn.LSTM, pytorch/examples style) | {ma:,.0f} | {', '.join(f'{x:,.0f}' for x in a)} |")
    print(f"| unrolled Trainer + RNNLanguageModel | {mb:,.0f} | {', '.join(f'{x:,.0f}' for x in b)} |")
    print(f"ratio unrolled / plain = {ratio:.3f} (median of per-round ratios; target >= 0.95)")


if __name__ == "__main__":
    main()
