"""Neural Turing machine vs an LSTM of (about) equal parameter count on repeat-copy (Graves et al. 2014 §4.2).

A sequence of L random 8-bit vectors, then a delimiter step that also carries the repeat count K (scaled as
K / K_train on its own channel), then blanks while the target is the sequence written K times and then an end
marker (a ninth output channel). Binary vectors and a sigmoid cross-entropy, as in the paper (the lab's
``repeat_copy`` task is the same layout in symbols, for the per-step softmax of ``unrolled lab``). Training draws
L from 1..L_train and K from 1..K_train per batch. Accuracy is measured at the trained maximum (1x: L_train,
K_train), at twice the length (L = 2 L_train, K_train) and at twice the repeats (L_train, K = 2 K_train: an
input value, K / K_train = 2, never seen in training): bit accuracy over the whole output block (threshold 0.5,
end-marker channel included), the share of sequences written without a single wrong bit, and the share whose
end marker is exactly where it belongs (the counting part of the task).

The NTM trains first, for ``--steps`` or until ``--max-seconds``; the LSTM then trains for the same number of
steps (it is ~5x cheaper per step), so both see the same batches.

Run:  python benchmarks/ntm_repeat_copy.py                              (defaults: L_train 5, K_train 3)
      python benchmarks/ntm_repeat_copy.py --steps 20000 --max-seconds 0  (no time cap)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ntm_copy import BITS, LSTMCopier, lstm_hidden_for, n_params  # noqa: E402
from unrolled.models.ntm import NTM  # noqa: E402

INPUTS = BITS + 2  # bits, delimiter, repeat count
OUTPUTS = BITS + 1  # bits, end marker


def repeat_batch(n: int, length: int, repeats: int, scale: int, g: torch.Generator):
    """x (n, L + 1 + K L + 1, BITS + 2); y (n, K L + 1, BITS + 1), the target of the last K L + 1 steps.

    Steps 0..L-1 hold the bits, step L the delimiter (channel BITS) and K / ``scale`` (channel BITS + 1), the
    rest is blank; the target is the bits K times, then the end marker alone (channel BITS)."""
    seq = torch.randint(0, 2, (n, length, BITS), generator=g).float()  # (n, L, BITS)
    total = length + 1 + repeats * length + 1
    x = torch.zeros(n, total, INPUTS)
    x[:, :length, :BITS] = seq
    x[:, length, BITS] = 1.0
    x[:, length, BITS + 1] = repeats / scale
    y = torch.zeros(n, repeats * length + 1, OUTPUTS)
    y[:, : repeats * length, :BITS] = seq.repeat(1, repeats, 1)  # (n, K L, BITS)
    y[:, -1, BITS] = 1.0
    return x, y


def output_block(model, x, y):
    return model(x)[:, -y.shape[1] :]  # (n, K L + 1, BITS + 1)


def train(model, steps, max_len, max_rep, batch, lr, seed, max_seconds=None, log=None):
    """Adam, norm clipping at 10; returns (losses, seconds). Stops early after ``max_seconds``."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, t0 = [], time.perf_counter()
    for step in range(steps):
        L = int(torch.randint(1, max_len + 1, (1,), generator=g))
        K = int(torch.randint(1, max_rep + 1, (1,), generator=g))
        x, y = repeat_batch(batch, L, K, max_rep, g)
        loss = F.binary_cross_entropy_with_logits(output_block(model, x, y), y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        losses.append(loss.item())
        if log is not None and (step + 1) % log == 0:
            tail = losses[-log:]
            print(f"  step {step + 1}: loss {sum(tail) / len(tail):.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        if max_seconds and time.perf_counter() - t0 >= max_seconds:
            break
    return losses, time.perf_counter() - t0


@torch.no_grad()
def evaluate(model, length, repeats, scale, n=200, seed=99):
    """(bit accuracy, share of sequences exact, share with the end marker exactly right)."""
    g = torch.Generator().manual_seed(seed + 100 * length + repeats)
    x, y = repeat_batch(n, length, repeats, scale, g)
    pred = (output_block(model, x, y) > 0).float()
    right = pred == y  # (n, K L + 1, BITS + 1)
    end_ok = right[..., BITS].all(dim=-1).float().mean().item()
    return right.float().mean().item(), right.flatten(1).all(dim=1).float().mean().item(), end_ok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train-length", type=int, default=5, help="L_train: lengths 1..L_train")
    p.add_argument("--train-repeats", type=int, default=3, help="K_train: repeats 1..K_train")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--max-seconds", type=float, default=1500.0, help="cap on the NTM's training (0: none)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=64, help="NTM controller units")
    p.add_argument("--slots", type=int, default=32, help="NTM memory rows (>= 2 x train length)")
    p.add_argument("--width", type=int, default=12, help="NTM memory row width")
    p.add_argument("--log-every", type=int, default=250)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    ntm = NTM(INPUTS, OUTPUTS, hidden_size=a.hidden, memory_slots=a.slots, memory_width=a.width)
    torch.manual_seed(0)
    lstm = LSTMCopier(lstm_hidden_for(n_params(ntm), INPUTS, OUTPUTS), INPUTS, OUTPUTS)
    L, K = a.train_length, a.train_repeats
    tests = (("1x", L, K), ("2x length", 2 * L, K), ("2x repeats", L, 2 * K))
    print(
        f"repeat-copy, train lengths 1..{L}, repeats 1..{K}, up to {a.steps} steps of batch {a.batch}, Adam lr "
        f"{a.lr}, NTM capped at {a.max_seconds or 'no'} s; NTM {n_params(ntm)} params (H {a.hidden}, memory "
        f"{a.slots}x{a.width}), LSTM {n_params(lstm)} params (H {lstm.rnn.hidden_size}); tests (L, K): "
        + ", ".join(f"{name} ({tl}, {tk})" for name, tl, tk in tests),
        flush=True,
    )
    rows, steps = [], a.steps
    for name, model in (("NTM", ntm), ("LSTM", lstm)):
        print(f"{name}:", flush=True)
        cap = a.max_seconds if name == "NTM" else None
        losses, secs = train(model, steps, L, K, a.batch, a.lr, seed=1, max_seconds=cap, log=a.log_every)
        steps = len(losses)  # the LSTM gets as many steps as the NTM managed
        tail = sum(losses[-50:]) / len(losses[-50:])
        figures = [evaluate(model, tl, tk, K) for _, tl, tk in tests]
        rows.append((name, len(losses), secs, tail, figures))
    print()
    head = " | ".join(f"bits {n} | exact {n} | end {n}" for n, _, _ in tests)
    print(f"| model | steps | train s | loss (last 50) | {head} |")
    print("|---|" + "---:|" * (3 + 3 * len(tests)))
    for name, n, secs, tail, figures in rows:
        cells = " | ".join(f"{b:.3f} | {s:.3f} | {e:.3f}" for b, s, e in figures)
        print(f"| {name} | {n} | {secs:.0f} | {tail:.4f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
