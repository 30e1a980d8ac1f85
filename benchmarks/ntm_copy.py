"""Neural Turing machine vs an LSTM of (about) equal parameter count on the copy task (Graves et al. 2014 §4.1).

A sequence of L random 8-bit vectors, then a delimiter (its own input channel), then L blank steps during which
the target is the sequence again. Training lengths are 1..L_train; accuracy is measured at L_train (1x) and at
2 x L_train (generalisation to longer sequences than trained, the paper's Figure 4). Bit accuracy (threshold 0.5)
and the share of sequences copied without a single wrong bit.

Run:  python benchmarks/ntm_copy.py          (default: a few minutes on a loaded 2-core machine)
      python benchmarks/ntm_copy.py --full   (L_train 10, 5000 steps)
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from unrolled.layers.recurrent import Recurrent
from unrolled.models.ntm import NTM

BITS = 8


def copy_batch(n: int, length: int, g: torch.Generator):
    """x (n, 2L+1, BITS+1), y (n, L, BITS): bits, delimiter at step L, blanks while the copy is read out."""
    seq = torch.randint(0, 2, (n, length, BITS), generator=g).float()
    x = torch.zeros(n, 2 * length + 1, BITS + 1)
    x[:, :length, :BITS] = seq
    x[:, length, BITS] = 1.0
    return x, seq


class LSTMCopier(nn.Module):
    def __init__(self, hidden: int, inputs: int = BITS + 1, outputs: int = BITS):
        super().__init__()
        self.rnn = Recurrent("lstm", inputs, hidden)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, x):
        return self.out(self.rnn(x)[0])


def lstm_hidden_for(params: int, inputs: int = BITS + 1, outputs: int = BITS) -> int:
    """The LSTM width whose parameter count (one layer, read-out) comes closest to ``params``."""
    best = min(range(1, 1024), key=lambda h: abs(4 * h * (inputs + h + 2) + outputs * (h + 1) - params))
    return best


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def train(model, steps, max_len, batch, lr, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        L = int(torch.randint(1, max_len + 1, (1,), generator=g))
        x, y = copy_batch(batch, L, g)
        logits = model(x)[:, L + 1 :]  # (B, L, BITS)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def evaluate(model, length, n=200, seed=99):
    g = torch.Generator().manual_seed(seed + length)
    x, y = copy_batch(n, length, g)
    pred = (model(x)[:, length + 1 :] > 0).float()
    right = pred == y
    return right.float().mean().item(), right.all(dim=-1).all(dim=-1).float().mean().item()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="L_train 10, 5000 steps")
    p.add_argument("--train-length", type=int, default=5)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=64, help="NTM controller units")
    p.add_argument("--slots", type=int, default=32, help="NTM memory rows (>= 2 x train length)")
    p.add_argument("--width", type=int, default=12, help="NTM memory row width")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    if a.full:
        a.train_length, a.steps, a.slots = 10, 5000, 32
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ntm = NTM(BITS + 1, BITS, hidden_size=a.hidden, memory_slots=a.slots, memory_width=a.width)
    torch.manual_seed(0)
    lstm = LSTMCopier(lstm_hidden_for(n_params(ntm)))
    print(
        f"copy task, train lengths 1..{a.train_length}, {a.steps} steps of batch {a.batch}, Adam lr {a.lr}; "
        f"NTM {n_params(ntm)} params (H {a.hidden}, memory {a.slots}x{a.width}), "
        f"LSTM {n_params(lstm)} params (H {lstm.rnn.hidden_size})"
    )
    L = a.train_length
    print(
        f"{'model':6s} {'train s':>8s} {'last loss':>9s} {'bits@1x':>8s} {'seq@1x':>7s} {'bits@2x':>8s} {'seq@2x':>7s}"
    )
    for name, model in (("NTM", ntm), ("LSTM", lstm)):
        t0 = time.perf_counter()
        losses = train(model, a.steps, L, a.batch, a.lr, seed=1)
        secs = time.perf_counter() - t0
        b1, s1 = evaluate(model, L)
        b2, s2 = evaluate(model, 2 * L)
        tail = sum(losses[-50:]) / len(losses[-50:])
        print(f"{name:6s} {secs:8.1f} {tail:9.4f} {b1:8.3f} {s1:7.3f} {b2:8.3f} {s2:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
