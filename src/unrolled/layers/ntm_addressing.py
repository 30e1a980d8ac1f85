r"""Addressing, reading and writing of a neural Turing machine's memory (Graves, Wayne & Danihelka 2014, §3).

A head turns its parameters into a weighting :math:`w_t` over the N memory rows in four stages (paper §3.3,
Figure 2): content addressing, interpolation, convolutional (circular) shift, sharpening:

.. math::
    \begin{array}{ll}
    w^c_t(i) = \dfrac{\exp(\beta_t K[k_t, M_t(i)])}{\sum_j \exp(\beta_t K[k_t, M_t(j)])}, \quad
    K[u, v] = \dfrac{u \cdot v}{\lVert u \rVert \lVert v \rVert} & (5, 6) \\
    w^g_t = g_t w^c_t + (1 - g_t) w_{t-1} & (7) \\
    \tilde w_t(i) = \sum_{j=0}^{N-1} w^g_t(j)\, s_t(i - j) \quad (\text{indices modulo } N) & (8) \\
    w_t(i) = \tilde w_t(i)^{\gamma_t} / \sum_j \tilde w_t(j)^{\gamma_t} & (9)
    \end{array}

Reading: :math:`r_t = \sum_i w_t(i) M_t(i)` (2). Writing: erase then add (3, 4),
:math:`M_t(i) = M_{t-1}(i) \odot \prod_h (1 - w^h_t(i) e^h_t) + \sum_h w^h_t(i) a^h_t` over the write heads h.

All functions take any number of heads: shapes use B batch, R heads, N memory rows, M row width, S = 2r+1 shift
offsets :math:`-r..r` (``s[..., r + k]`` is the weight of a shift by k rows forward).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["address", "circular_shift", "content_addressing", "interpolate", "read", "sharpen", "write"]

EPS = 1e-8  # in the cosine similarity's denominator
SHARPEN_FLOOR = 1e-12  # keeps 0 ** gamma differentiable in gamma


def content_addressing(memory: Tensor, key: Tensor, beta: Tensor) -> Tensor:
    """Eqs. 5-6: softmax over rows of beta times the cosine similarity of ``key`` and each row.

    Shape: memory (B, N, M), key (B, R, M), beta (B, R, 1) -> (B, R, N).
    """
    dots = key @ memory.transpose(1, 2)  # (B, R, N)
    norms = key.norm(dim=-1, keepdim=True) * memory.norm(dim=-1).unsqueeze(1)  # (B, R, N)
    return torch.softmax(beta * dots / (norms + EPS), dim=-1)  # (B, R, N)


def interpolate(w_content: Tensor, w_prev: Tensor, gate: Tensor) -> Tensor:
    """Eq. 7: ``gate`` (B, R, 1) in [0, 1] blends the content weighting with the previous one; (B, R, N)."""
    return gate * w_content + (1 - gate) * w_prev


def circular_shift(w: Tensor, shift: Tensor) -> Tensor:
    """Eq. 8: circular convolution of ``w`` (B, R, N) with the shift distribution ``shift`` (B, R, S), S = 2r+1."""
    S = shift.shape[-1]
    if S % 2 == 0:
        raise ValueError(f"expected an odd number of shift offsets (2r+1), got {S}")
    r = S // 2
    if r == 0:
        return w * shift
    padded = torch.cat([w[..., -r:], w, w[..., :r]], dim=-1)  # w(-r .. N-1+r), circular: (B, R, N + 2r)
    windows = padded.unfold(-1, S, 1)  # windows[..., i, m] = w(i - r + m): (B, R, N, S)
    # out(i) = sum_k s(k) w(i - k) = sum_m windows[i, m] s(r - m), i.e. against s reversed
    return (windows @ shift.flip(-1).unsqueeze(-1)).squeeze(-1)  # (B, R, N)


def sharpen(w: Tensor, gamma: Tensor) -> Tensor:
    """Eq. 9: ``w ** gamma`` renormalised, gamma (B, R, 1) >= 1; (B, R, N). A tiny floor keeps 0 ** gamma
    differentiable in gamma."""
    p = (w + SHARPEN_FLOOR) ** gamma  # (B, R, N)
    return p / p.sum(dim=-1, keepdim=True)


def address(
    memory: Tensor,
    w_prev: Tensor,
    key: Tensor,
    beta: Tensor,
    gate: Tensor,
    shift: Tensor,
    gamma: Tensor,
) -> Tensor:
    """The four stages in order (Figure 2): content, interpolation, shift, sharpening; (B, R, N)."""
    w = content_addressing(memory, key, beta)
    w = interpolate(w, w_prev, gate)
    w = circular_shift(w, shift)
    return sharpen(w, gamma)


def read(memory: Tensor, w: Tensor) -> Tensor:
    """Eq. 2: r = sum_i w(i) M(i). memory (B, N, M), w (B, R, N) -> (B, R, M)."""
    return w @ memory


def write(memory: Tensor, w: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """Eqs. 3-4 for R write heads: every head's erase, then every head's add.

    Shape: memory (B, N, M), w (B, R, N), erase and add (B, R, M) -> (B, N, M).
    """
    keep = torch.prod(1 - w.unsqueeze(-1) * erase.unsqueeze(2), dim=1)  # prod_h (1 - w_h e_h^T): (B, N, M)
    return memory * keep + w.transpose(1, 2) @ add  # (B, N, M)
