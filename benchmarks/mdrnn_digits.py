"""Multi-directional 2-D RNN vs a row-by-row chain RNN on scikit-learn's 8x8 digits.

The 2-D RNN (four sweeps, one from each corner, :class:`unrolled.layers.mdrnn.MultiDirectional2dRNN`) gives every
pixel a state that has seen the whole image; the four sweeps' states at the corners where they end are
concatenated and classified. The chain baseline reads
the image one row (8 pixels) per step with an Elman RNN of the same kind (tanh) and classifies its last state;
a second baseline reads rows with an LSTM. Hidden sizes are set so that the three have about equal parameter
counts. Same split (1,257 train / 540 test, seed 0), same optimiser and steps.

Run:  python benchmarks/mdrnn_digits.py          (default: a few minutes on a loaded 2-core machine)
      python benchmarks/mdrnn_digits.py --full   (more epochs)
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from unrolled.layers.mdrnn import MultiDirectional2dRNN
from unrolled.layers.recurrent import Recurrent


def load_digits_tensors():
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover
        raise SystemExit("this benchmark needs scikit-learn (pip install scikit-learn)") from None
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32) / 16.0  # (n, 8, 8) in [0, 1]
    y = torch.tensor(d.target)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    test, train = perm[:540], perm[540:]
    return x[train], y[train], x[test], y[test]


class Digits2d(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.rnn = MultiDirectional2dRNN(1, hidden)
        self.out = nn.Linear(self.rnn.output_size, 10)

    def forward(self, img):  # (B, 8, 8)
        h = self.rnn(img.unsqueeze(-1)).unflatten(-1, (4, -1))  # (B, 8, 8, 4, H)
        # each sweep's state at the corner where it ends has seen the whole image (like a chain's last state)
        ends = [h[:, -1, -1, 0], h[:, -1, 0, 1], h[:, 0, -1, 2], h[:, 0, 0, 3]]  # CORNERS order; each (B, H)
        return self.out(torch.cat(ends, dim=-1))


class RowByRow(nn.Module):
    def __init__(self, cell, hidden):
        super().__init__()
        self.rnn = Recurrent(cell, 8, hidden)
        self.out = nn.Linear(hidden, 10)

    def forward(self, img):  # (B, 8 rows, 8 pixels)
        y, _ = self.rnn(img)
        return self.out(y[:, -1])


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def row_params(cell, h):
    """Parameters of RowByRow(cell, h): the recurrence (two bias vectors, as torch) and the read-out."""
    gates = {"elman": 1, "lstm": 4}[cell]
    return gates * h * (8 + h + 2) + 10 * h + 10


def closest(cell, target):
    return min(range(4, 400), key=lambda h: abs(row_params(cell, h) - target))


def run(model, data, epochs, batch, lr, seed=0):
    xtr, ytr, xte, yte = data
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(ytr), generator=g)
        for i in range(0, len(perm), batch):
            idx = perm[i : i + batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    secs = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(-1) == yte).float().mean().item()
    return acc, secs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="30 epochs")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--hidden", type=int, default=16, help="units per sweep of the 2-D RNN")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    if a.full:
        a.epochs = 30
    torch.set_num_threads(a.threads)
    data = load_digits_tensors()
    torch.manual_seed(0)
    md = Digits2d(a.hidden)
    target = n_params(md)
    rows = [("2-D RNN, 4 sweeps", md)]
    for cell in ("elman", "lstm"):
        h = closest(cell, target)
        torch.manual_seed(0)
        rows.append((f"row-by-row {cell} (H {h})", RowByRow(cell, h)))
    print(f"digits 8x8: {len(data[1])} train / {len(data[3])} test, {a.epochs} epochs, batch {a.batch}, Adam {a.lr}")
    print(f"{'model':28s} {'params':>7s} {'test acc':>8s} {'train s':>8s}")
    for name, m in rows:
        acc, secs = run(m, data, a.epochs, a.batch, a.lr)
        print(f"{name:28s} {n_params(m):7d} {acc:8.3f} {secs:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
