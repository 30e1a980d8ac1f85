"""Backpropagation through time written out by hand (NumPy), checked against PyTorch autograd.

The Elman network of Goodfellow et al., Deep Learning, §10.2.2: a_t = b + W h_{t-1} + U x_t, h_t = tanh(a_t),
o_t = c + V h_t, loss = Σ_t -log softmax(o_t)[y_t]. ``unrolled.reference`` implements the book's gradient equations
line by line; this script compares them with what autograd computes on the same weights.

    python examples/bptt_by_hand.py
"""

from __future__ import annotations

import numpy as np
import torch

from unrolled.reference import ElmanParams, elman_backward, elman_forward, elman_loss


def main() -> None:
    rng = np.random.default_rng(0)
    B, T, I, H, V = 2, 6, 3, 5, 4
    params = ElmanParams.random(I, H, V, rng=rng)
    xs = rng.standard_normal((B, T, I))
    ys = rng.integers(0, V, (B, T))
    cache = elman_forward(params, xs)
    grads = elman_backward(params, cache, ys)

    t = {k: torch.tensor(getattr(params, k), requires_grad=True) for k in ("U", "W", "V", "b", "c")}
    h = torch.zeros(B, H, dtype=torch.float64)
    loss = torch.zeros((), dtype=torch.float64)
    for step in range(T):
        h = torch.tanh(t["b"] + h @ t["W"].T + torch.tensor(xs[:, step]) @ t["U"].T)
        o = t["c"] + h @ t["V"].T
        loss = loss - torch.log_softmax(o, -1)[torch.arange(B), torch.tensor(ys[:, step])].sum()
    loss.backward()
    print(f"loss: by hand {elman_loss(cache, ys):.12f}, autograd {loss.item():.12f}")
    for k in ("U", "W", "V", "b", "c"):
        diff = np.abs(getattr(grads, k) - t[k].grad.numpy()).max()
        print(f"dL/d{k}: max |by hand - autograd| = {diff:.2e}")


if __name__ == "__main__":
    main()
