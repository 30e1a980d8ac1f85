"""The GRU, forward pass and back-propagation through time, in NumPy, with both placements of the reset gate.

The gated recurrent unit of Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder
for statistical machine translation", in the parameter layout and gate order (r, z, n) of ``torch.nn.GRU``:
one input-to-hidden and one hidden-to-hidden matrix hold the three blocks stacked by rows, each with its
own bias::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)        reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)        update gate
    n_t = tanh(W_in x_t + b_in + <hidden term>)           candidate state
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Two hidden terms are in use, and they give different networks (Chung et al. 2014, "Empirical evaluation of
gated recurrent neural networks on sequence modeling", footnote 1, compare both):

- ``reset="after"``: r_t ⊙ (W_hn h_{t-1} + b_hn), the reset applied *after* the matrix product. This is
  what ``torch.nn.GRU``, cuDNN and Keras ``GRU(reset_after=True)`` compute.
- ``reset="before"``: W_hn (r_t ⊙ h_{t-1}) + b_hn, the reset applied *before* the matrix product, as in
  Cho et al. (2014), eq. 5-8, and most textbooks.

The variant is chosen by name once, through the registry :data:`GRU_RESET_VARIANTS`; each entry holds the
forward and backward formula of the candidate n_t, the only place where the two differ.

As in the rest of :mod:`unrolled.reference`, sequences are batch-first with rows as vectors: ``xs[:, t]``
has shape (B, I), ``W x_t`` is written ``x_t @ W.T``, and ``Wᵀ g`` is written ``g @ W``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from unrolled.reference._checks import as_float_array, optional_float_array

__all__ = ["GRU_RESET_VARIANTS", "GRUParams", "GRUCache", "GRUGrads", "gru_forward", "gru_backward"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2, which is equal and never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# --- The two candidate formulas ------------------------------------------------------------------------
# forward(x_n, h_prev, r, W_hn, b_hn) -> (n, hn), where x_n = W_in x_t + b_in and hn is the hidden term
# inside the tanh before it is added, kept for the backward pass.
# backward(da_n, h_prev, r, hn, W_hn) -> (dr, dh_prev, dW_hn, db_hn), where da_n = ∂L/∂(pre-activation of
# n_t), dr = ∂L/∂r_t, and dh_prev is the part of ∂L/∂h_{t-1} that flows through n_t.


def _candidate_reset_after(x_n, h_prev, r, W_hn, b_hn):
    """n_t = tanh(x_n + r_t ⊙ hn) with hn = W_hn h_{t-1} + b_hn."""
    hn = h_prev @ W_hn.T + b_hn
    return np.tanh(x_n + r * hn), hn


def _candidate_reset_after_backward(da_n, h_prev, r, hn, W_hn):
    """∂/∂r_t = da_n ⊙ hn;  ∂/∂hn = da_n ⊙ r_t, which flows into W_hn, b_hn and h_{t-1}."""
    dr = da_n * hn
    dhn = da_n * r
    return dr, dhn @ W_hn, dhn.T @ h_prev, dhn.sum(axis=0)


def _candidate_reset_before(x_n, h_prev, r, W_hn, b_hn):
    """n_t = tanh(x_n + hn) with hn = W_hn (r_t ⊙ h_{t-1}) + b_hn."""
    hn = (r * h_prev) @ W_hn.T + b_hn
    return np.tanh(x_n + hn), hn


def _candidate_reset_before_backward(da_n, h_prev, r, hn, W_hn):
    """∂/∂(r_t ⊙ h_{t-1}) = W_hnᵀ da_n, which splits into ∂/∂r_t (times h_{t-1}) and ∂/∂h_{t-1} (times r_t)."""
    drh = da_n @ W_hn
    return drh * h_prev, drh * r, da_n.T @ (r * h_prev), da_n.sum(axis=0)


class ResetVariant(NamedTuple):
    """The forward and backward formula of the GRU candidate n_t for one placement of the reset gate."""

    forward: Callable[..., tuple[np.ndarray, np.ndarray]]
    backward: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


GRU_RESET_VARIANTS: dict[str, ResetVariant] = {
    "after": ResetVariant(_candidate_reset_after, _candidate_reset_after_backward),
    "before": ResetVariant(_candidate_reset_before, _candidate_reset_before_backward),
}


def _resolve_reset(reset: str) -> ResetVariant:
    if reset not in GRU_RESET_VARIANTS:
        raise ValueError(f"reset: expected one of {sorted(GRU_RESET_VARIANTS)}, got {reset!r}")
    return GRU_RESET_VARIANTS[reset]


@dataclass
class GRUParams:
    """Weights of one GRU layer, in the layout and gate order (r, z, n) of ``torch.nn.GRU``.

    Args:
        weight_ih: input-to-hidden weights [W_ir; W_iz; W_in], stacked by rows.
        weight_hh: hidden-to-hidden weights [W_hr; W_hz; W_hn], stacked by rows.
        bias_ih: input-side biases [b_ir; b_iz; b_in].
        bias_hh: hidden-side biases [b_hr; b_hz; b_hn].

    Shape:
        - weight_ih: (3H, I)
        - weight_hh: (3H, H)
        - bias_ih: (3H,)
        - bias_hh: (3H,)

    The arrays map one to one onto ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0`` and ``bias_hh_l0`` of
    ``torch.nn.GRU``. Unlike the LSTM, b_in and b_hn are not interchangeable with ``reset="after"``, since r_t
    multiplies b_hn only. Every field is converted to float64; a float64 array is kept as the same object.

    Examples::

        >>> params = GRUParams.random(input_size=3, hidden_size=4, rng=np.random.default_rng(0))
        >>> params.weight_ih.shape, params.weight_hh.shape
        ((12, 3), (12, 4))
    """

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray

    def __post_init__(self) -> None:
        self.weight_hh = as_float_array("weight_hh", self.weight_hh, [("3H", None), ("H", None)])
        H = self.weight_hh.shape[1]
        self.weight_hh = as_float_array("weight_hh", self.weight_hh, [("3H", 3 * H), ("H", H)])
        self.weight_ih = as_float_array("weight_ih", self.weight_ih, [("3H", 3 * H), ("I", None)])
        self.bias_ih = as_float_array("bias_ih", self.bias_ih, [("3H", 3 * H)])
        self.bias_hh = as_float_array("bias_hh", self.bias_hh, [("3H", 3 * H)])

    @property
    def input_size(self) -> int:
        """I, the number of input features."""
        return self.weight_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        """H, the number of hidden units."""
        return self.weight_hh.shape[1]

    @classmethod
    def random(cls, input_size: int, hidden_size: int, *, rng: np.random.Generator) -> GRUParams:
        """Draw every weight from U(-1/√H, 1/√H), the initialisation of ``torch.nn.GRU``."""
        k = 1.0 / np.sqrt(hidden_size)
        return cls(
            weight_ih=rng.uniform(-k, k, (3 * hidden_size, input_size)),
            weight_hh=rng.uniform(-k, k, (3 * hidden_size, hidden_size)),
            bias_ih=rng.uniform(-k, k, 3 * hidden_size),
            bias_hh=rng.uniform(-k, k, 3 * hidden_size),
        )


@dataclass
class GRUCache:
    """Everything the forward pass computed, kept for the backward pass.

    Shape:
        - xs: (B, T, I), the inputs x_t
        - h0: (B, H), the initial state
        - r, z, n: (B, T, H), the reset gate, update gate and candidate
        - hn: (B, T, H), the hidden term inside the candidate's tanh (see the module docstring)
        - h: (B, T, H), the hidden states h_t (the output sequence of ``torch.nn.GRU``)
        - reset: the variant, ``"after"`` or ``"before"``
    """

    xs: np.ndarray
    h0: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    hn: np.ndarray
    h: np.ndarray
    reset: str


@dataclass
class GRUGrads:
    """Gradients ∂L/∂(.) for the four weights of :class:`GRUParams`, the inputs and the initial state."""

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    xs: np.ndarray
    h0: np.ndarray


def gru_forward(params: GRUParams, xs: np.ndarray, h0: np.ndarray | None = None, reset: str = "after") -> GRUCache:
    """Run one GRU layer over a batch of sequences.

    For every step t = 1 ... T::

        r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))      reset="after"  (torch.nn.GRU)
        n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙ h_{t-1}) + b_hn)      reset="before" (Cho et al. 2014)
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Args:
        params: the four weight arrays, gate order (r, z, n).
        xs: the inputs x_1 ... x_T, batch-first.
        h0: the initial state h_0; zeros when omitted.
        reset: where the reset gate acts, ``"after"`` or ``"before"`` the product with W_hn.

    Shape:
        - xs: (B, T, I)
        - h0: (B, H)
        - returns a :class:`GRUCache`; ``cache.h`` (B, T, H) is the output sequence and ``cache.h[:, -1]`` the
          final state h_T.

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = GRUParams.random(input_size=3, hidden_size=4, rng=rng)
        >>> xs = rng.standard_normal((2, 6, 3))
        >>> after, before = gru_forward(params, xs, reset="after"), gru_forward(params, xs, reset="before")
        >>> after.h.shape, bool(np.allclose(after.h, before.h))
        ((2, 6, 4), False)
    """
    variant = _resolve_reset(reset)
    xs = as_float_array("xs", xs, [("B", None), ("T", None), ("I", params.input_size)])
    B, T, _ = xs.shape
    H = params.hidden_size
    h0 = optional_float_array("h0", h0, [("B", B), ("H", H)])
    W_ir, W_iz, W_in = np.split(params.weight_ih, 3, axis=0)
    W_hr, W_hz, W_hn = np.split(params.weight_hh, 3, axis=0)
    b_ir, b_iz, b_in = np.split(params.bias_ih, 3)
    b_hr, b_hz, b_hn = np.split(params.bias_hh, 3)

    r, z, n, hn, h = (np.zeros((B, T, H)) for _ in range(5))
    for t in range(T):
        x_t = xs[:, t]
        h_prev = h0 if t == 0 else h[:, t - 1]
        r[:, t] = _sigmoid(x_t @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr)
        z[:, t] = _sigmoid(x_t @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz)
        n[:, t], hn[:, t] = variant.forward(x_t @ W_in.T + b_in, h_prev, r[:, t], W_hn, b_hn)
        h[:, t] = (1 - z[:, t]) * n[:, t] + z[:, t] * h_prev
    return GRUCache(xs=xs, h0=h0, r=r, z=z, n=n, hn=hn, h=h, reset=reset)


def gru_backward(params: GRUParams, cache: GRUCache, dhs: np.ndarray, dh_T: np.ndarray | None = None) -> GRUGrads:
    """Back-propagation through time for :func:`gru_forward`, given ∂L/∂h_t from outside for every step.

    Walking from t = T down to 1, with δh_t the total gradient that reaches h_t (from outside, plus through
    step t+1)::

        δh_t = dhs_t + (dh_T at t = T, else the gradient flowing back from step t+1)
        δn_t = δh_t ⊙ (1 - z_t)                     from h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
        δz_t = δh_t ⊙ (h_{t-1} - n_t)
        δa_n = δn_t ⊙ (1 - n_t²)                    tanh'
        δa_z = δz_t ⊙ z_t ⊙ (1 - z_t)               σ'

    The candidate then gives δr_t and its own share of δh_{t-1}, depending on the variant::

        reset="after":   δr_t = δa_n ⊙ (W_hn h_{t-1} + b_hn)     share of δh_{t-1}: W_hnᵀ (δa_n ⊙ r_t)
        reset="before":  δr_t = (W_hnᵀ δa_n) ⊙ h_{t-1}           share of δh_{t-1}: (W_hnᵀ δa_n) ⊙ r_t

    and δa_r = δr_t ⊙ r_t ⊙ (1 - r_t). With δa_t = [δa_r; δa_z; δa_n] (3H numbers)::

        ∇W_ih = Σ_t δa_t x_tᵀ        ∇b_ih = Σ_t δa_t        ∇x_t = W_ihᵀ δa_t
        ∇W_hr = Σ_t δa_r h_{t-1}ᵀ    ∇b_hr = Σ_t δa_r        (and likewise for z)
        ∇W_hn = Σ_t (δa_n ⊙ r_t) h_{t-1}ᵀ,  ∇b_hn = Σ_t δa_n ⊙ r_t          reset="after"
        ∇W_hn = Σ_t δa_n (r_t ⊙ h_{t-1})ᵀ,  ∇b_hn = Σ_t δa_n                reset="before"
        δh_{t-1} = δh_t ⊙ z_t + W_hrᵀ δa_r + W_hzᵀ δa_z + (the candidate's share above)

    Args:
        params: the weights used by the forward pass.
        cache: the result of :func:`gru_forward`; its ``reset`` selects the variant.
        dhs: ∂L/∂h_t from outside the layer for every step (the gradient of the output sequence).
        dh_T: an extra ∂L/∂h_T on the final state (the gradient of ``h_n`` in ``torch.nn.GRU``).

    Shape:
        - dhs: (B, T, H)
        - dh_T: (B, H); zeros when omitted
        - returns a :class:`GRUGrads` whose fields have the shapes of the four weights, xs and h0.

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = GRUParams.random(input_size=3, hidden_size=4, rng=rng)
        >>> cache = gru_forward(params, rng.standard_normal((2, 6, 3)), reset="before")
        >>> grads = gru_backward(params, cache, dhs=np.ones((2, 6, 4)))  # L = Σ_t Σ_units h_t
        >>> grads.weight_hh.shape, grads.h0.shape
        ((12, 4), (2, 4))
    """
    variant = _resolve_reset(cache.reset)
    I, H = params.input_size, params.hidden_size
    got = (cache.xs.shape[-1], cache.h.shape[-1])
    if got != (I, H):
        raise ValueError(f"cache: expected sizes (I={I}, H={H}) from params, got {got}")
    xs, h0 = cache.xs, cache.h0
    B, T, _ = xs.shape
    dhs = as_float_array("dhs", dhs, [("B", B), ("T", T), ("H", H)])
    dh_next = optional_float_array("dh_T", dh_T, [("B", B), ("H", H)])  # gradient reaching h_t via step t+1
    W_hr, W_hz, W_hn = np.split(params.weight_hh, 3, axis=0)

    dweight_ih = np.zeros_like(params.weight_ih)
    dweight_hh = np.zeros_like(params.weight_hh)
    dW_hr, dW_hz, dW_hn = np.split(dweight_hh, 3, axis=0)  # views: adding to them fills dweight_hh
    dbias_ih = np.zeros_like(params.bias_ih)
    dbias_hh = np.zeros_like(params.bias_hh)
    db_hr, db_hz, db_hn = np.split(dbias_hh, 3)
    dxs = np.zeros_like(xs)
    for t in range(T - 1, -1, -1):
        x_t = xs[:, t]
        h_prev = h0 if t == 0 else cache.h[:, t - 1]
        r, z, n, hn = cache.r[:, t], cache.z[:, t], cache.n[:, t], cache.hn[:, t]

        dh = dhs[:, t] + dh_next  # δh_t
        dn = dh * (1 - z)  # h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
        dz = dh * (h_prev - n)
        dh_prev = dh * z
        da_n = dn * (1 - n**2)  # n_t = tanh(a_n)
        da_z = dz * z * (1 - z)  # z_t = σ(a_z)
        dr, dh_prev_via_n, dW_hn_t, db_hn_t = variant.backward(da_n, h_prev, r, hn, W_hn)
        da_r = dr * r * (1 - r)  # r_t = σ(a_r)

        # Input side: a_r, a_z and a_n all contain W_i? x_t + b_i?.
        da = np.concatenate([da_r, da_z, da_n], axis=1)  # (B, 3H), gate order (r, z, n)
        dweight_ih += da.T @ x_t
        dbias_ih += da.sum(axis=0)
        dxs[:, t] = da @ params.weight_ih

        # Hidden side: r and z read W_h? h_{t-1} + b_h? directly; n through its variant.
        dW_hr += da_r.T @ h_prev
        dW_hz += da_z.T @ h_prev
        dW_hn += dW_hn_t
        db_hr += da_r.sum(axis=0)
        db_hz += da_z.sum(axis=0)
        db_hn += db_hn_t
        # The recurrent part of δh_{t-1}: the direct path z_t ⊙ δh_t, the paths through r_t and z_t, and through n_t.
        dh_next = dh_prev + da_r @ W_hr + da_z @ W_hz + dh_prev_via_n
    return GRUGrads(weight_ih=dweight_ih, weight_hh=dweight_hh, bias_ih=dbias_ih, bias_hh=dbias_hh, xs=dxs, h0=dh_next)
