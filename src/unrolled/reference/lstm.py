"""The LSTM, forward pass and back-propagation through time, in NumPy.

The long short-term memory of Hochreiter & Schmidhuber (1997), with the forget gate of Gers, Schmidhuber &
Cummins (2000), "Learning to forget", in the form and parameter layout of ``torch.nn.LSTM``: one
input-to-hidden matrix and one hidden-to-hidden matrix hold the four gates stacked in the order
(i, f, g, o), and each has its own bias (two biases per gate, as in cuDNN; only their sum matters)::

    [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh     (pre-activations, 4H numbers)
    i_t = σ(a_i)        input gate
    f_t = σ(a_f)        forget gate
    g_t = tanh(a_g)     candidate cell value
    o_t = σ(a_o)        output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

σ is the logistic sigmoid and ⊙ the element-wise product. As in the rest of :mod:`unrolled.reference`,
sequences are batch-first with rows as vectors: ``xs[:, t]`` has shape (B, I), ``W_ih x_t`` is written
``x_t @ W_ih.T``, ``W_ihᵀ g`` is written ``g @ W_ih``, and the matrix product ``da.T @ x_t`` sums over the
batch. Python indexes time from 0; h_0 and c_0 are kept apart in the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unrolled.reference._checks import as_float_array, optional_float_array

__all__ = ["LSTMParams", "LSTMCache", "LSTMGrads", "lstm_forward", "lstm_backward"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + exp(-x)), computed as (1 + tanh(x/2)) / 2, which is equal and never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class LSTMParams:
    """Weights of one LSTM layer, in the layout and gate order (i, f, g, o) of ``torch.nn.LSTM``.

    Args:
        weight_ih: input-to-hidden weights [W_ii; W_if; W_ig; W_io], stacked by rows.
        weight_hh: hidden-to-hidden weights [W_hi; W_hf; W_hg; W_ho], stacked by rows.
        bias_ih: input-side biases [b_ii; b_if; b_ig; b_io].
        bias_hh: hidden-side biases [b_hi; b_hf; b_hg; b_ho].

    Shape:
        - weight_ih: (4H, I)
        - weight_hh: (4H, H)
        - bias_ih: (4H,)
        - bias_hh: (4H,)

    The arrays map one to one onto ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0`` and ``bias_hh_l0`` of
    ``torch.nn.LSTM``. Every field is converted to float64; a float64 array is kept as the same object.

    Examples::

        >>> params = LSTMParams.random(input_size=3, hidden_size=4, rng=np.random.default_rng(0))
        >>> params.weight_ih.shape, params.weight_hh.shape
        ((16, 3), (16, 4))
    """

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray

    def __post_init__(self) -> None:
        self.weight_hh = as_float_array("weight_hh", self.weight_hh, [("4H", None), ("H", None)])
        H = self.weight_hh.shape[1]
        self.weight_hh = as_float_array("weight_hh", self.weight_hh, [("4H", 4 * H), ("H", H)])
        self.weight_ih = as_float_array("weight_ih", self.weight_ih, [("4H", 4 * H), ("I", None)])
        self.bias_ih = as_float_array("bias_ih", self.bias_ih, [("4H", 4 * H)])
        self.bias_hh = as_float_array("bias_hh", self.bias_hh, [("4H", 4 * H)])

    @property
    def input_size(self) -> int:
        """I, the number of input features."""
        return self.weight_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        """H, the number of hidden units."""
        return self.weight_hh.shape[1]

    @classmethod
    def random(cls, input_size: int, hidden_size: int, *, rng: np.random.Generator) -> LSTMParams:
        """Draw every weight from U(-1/√H, 1/√H), the initialisation of ``torch.nn.LSTM``."""
        k = 1.0 / np.sqrt(hidden_size)
        return cls(
            weight_ih=rng.uniform(-k, k, (4 * hidden_size, input_size)),
            weight_hh=rng.uniform(-k, k, (4 * hidden_size, hidden_size)),
            bias_ih=rng.uniform(-k, k, 4 * hidden_size),
            bias_hh=rng.uniform(-k, k, 4 * hidden_size),
        )


@dataclass
class LSTMCache:
    """Everything the forward pass computed, kept for the backward pass.

    Shape:
        - xs: (B, T, I), the inputs x_t
        - h0, c0: (B, H), the initial hidden and cell states
        - i, f, g, o: (B, T, H), the gate values i_t, f_t, g_t, o_t
        - c: (B, T, H), the cell states c_t
        - h: (B, T, H), the hidden states h_t (the output sequence of ``torch.nn.LSTM``)
    """

    xs: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    h: np.ndarray


@dataclass
class LSTMGrads:
    """Gradients ∂L/∂(.) for the four weights of :class:`LSTMParams`, the inputs and both initial states."""

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    xs: np.ndarray
    h0: np.ndarray
    c0: np.ndarray


def lstm_forward(
    params: LSTMParams, xs: np.ndarray, h0: np.ndarray | None = None, c0: np.ndarray | None = None
) -> LSTMCache:
    """Run one LSTM layer over a batch of sequences.

    For every step t = 1 ... T::

        [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
        i_t = σ(a_i),  f_t = σ(a_f),  g_t = tanh(a_g),  o_t = σ(a_o)
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        h_t = o_t ⊙ tanh(c_t)

    Args:
        params: the four weight arrays, gate order (i, f, g, o).
        xs: the inputs x_1 ... x_T, batch-first.
        h0: the initial hidden state h_0; zeros when omitted.
        c0: the initial cell state c_0; zeros when omitted.

    Shape:
        - xs: (B, T, I)
        - h0, c0: (B, H)
        - returns an :class:`LSTMCache`; ``cache.h`` (B, T, H) is the output sequence, and
          ``cache.h[:, -1]``, ``cache.c[:, -1]`` are the final states h_T, c_T.

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = LSTMParams.random(input_size=3, hidden_size=4, rng=rng)
        >>> cache = lstm_forward(params, rng.standard_normal((2, 6, 3)))
        >>> cache.h.shape, cache.c.shape
        ((2, 6, 4), (2, 6, 4))
    """
    xs = as_float_array("xs", xs, [("B", None), ("T", None), ("I", params.input_size)])
    B, T, _ = xs.shape
    H = params.hidden_size
    h0 = optional_float_array("h0", h0, [("B", B), ("H", H)])
    c0 = optional_float_array("c0", c0, [("B", B), ("H", H)])
    i, f, g, o, c, h = (np.zeros((B, T, H)) for _ in range(6))
    for t in range(T):
        h_prev = h0 if t == 0 else h[:, t - 1]
        c_prev = c0 if t == 0 else c[:, t - 1]
        a = xs[:, t] @ params.weight_ih.T + params.bias_ih + h_prev @ params.weight_hh.T + params.bias_hh
        a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)  # gate order (i, f, g, o), each (B, H)
        i[:, t] = _sigmoid(a_i)
        f[:, t] = _sigmoid(a_f)
        g[:, t] = np.tanh(a_g)
        o[:, t] = _sigmoid(a_o)
        c[:, t] = f[:, t] * c_prev + i[:, t] * g[:, t]
        h[:, t] = o[:, t] * np.tanh(c[:, t])
    return LSTMCache(xs=xs, h0=h0, c0=c0, i=i, f=f, g=g, o=o, c=c, h=h)


def lstm_backward(
    params: LSTMParams,
    cache: LSTMCache,
    dhs: np.ndarray,
    dh_T: np.ndarray | None = None,
    dc_T: np.ndarray | None = None,
) -> LSTMGrads:
    """Back-propagation through time for :func:`lstm_forward`, given ∂L/∂h_t from outside for every step.

    Walking from t = T down to 1, with δh_t the total gradient that reaches h_t (from outside, plus through
    h_{t+1}) and δc_t the total gradient that reaches c_t (through h_t, plus through c_{t+1})::

        δh_T     = dhs_T + dh_T                   δh_t = dhs_t + W_hhᵀ δa_{t+1}          (t < T)
        δo_t     = δh_t ⊙ tanh(c_t)
        δc_t     = δh_t ⊙ o_t ⊙ (1 - tanh²(c_t)) + (dc_T at t = T, else f_{t+1} ⊙ δc_{t+1})
        δi_t     = δc_t ⊙ g_t
        δf_t     = δc_t ⊙ c_{t-1}
        δg_t     = δc_t ⊙ i_t

    then through the gate non-linearities, using σ'(a) = σ(a)(1 - σ(a)) and tanh'(a) = 1 - tanh²(a)::

        δa_i = δi_t ⊙ i_t ⊙ (1 - i_t)
        δa_f = δf_t ⊙ f_t ⊙ (1 - f_t)
        δa_g = δg_t ⊙ (1 - g_t²)
        δa_o = δo_t ⊙ o_t ⊙ (1 - o_t)
        δa_t = [δa_i; δa_f; δa_g; δa_o]          (4H numbers, the gradient of the pre-activations)

    and finally into the weights, the inputs and the previous states::

        ∇W_ih = Σ_t δa_t x_tᵀ          ∇b_ih = Σ_t δa_t          ∇x_t     = W_ihᵀ δa_t
        ∇W_hh = Σ_t δa_t h_{t-1}ᵀ      ∇b_hh = Σ_t δa_t          (W_hhᵀ δa_t is the recurrent part of δh_{t-1})
        ∇h_0  = W_hhᵀ δa_1             ∇c_0  = f_1 ⊙ δc_1

    Args:
        params: the weights used by the forward pass.
        cache: the result of :func:`lstm_forward`.
        dhs: ∂L/∂h_t from outside the layer for every step (the gradient of the output sequence).
        dh_T: an extra ∂L/∂h_T on the final hidden state (the gradient of ``h_n`` in ``torch.nn.LSTM``).
        dc_T: ∂L/∂c_T on the final cell state (the gradient of ``c_n`` in ``torch.nn.LSTM``).

    Shape:
        - dhs: (B, T, H)
        - dh_T, dc_T: (B, H); zeros when omitted
        - returns an :class:`LSTMGrads` whose fields have the shapes of the four weights, xs, h0 and c0.

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = LSTMParams.random(input_size=3, hidden_size=4, rng=rng)
        >>> cache = lstm_forward(params, rng.standard_normal((2, 6, 3)))
        >>> grads = lstm_backward(params, cache, dhs=np.ones((2, 6, 4)))  # L = Σ_t Σ_units h_t
        >>> grads.weight_hh.shape, grads.c0.shape
        ((16, 4), (2, 4))
    """
    I, H = params.input_size, params.hidden_size
    got = (cache.xs.shape[-1], cache.h.shape[-1])
    if got != (I, H):
        raise ValueError(f"cache: expected sizes (I={I}, H={H}) from params, got {got}")
    xs, h0, c0 = cache.xs, cache.h0, cache.c0
    B, T, _ = xs.shape
    dhs = as_float_array("dhs", dhs, [("B", B), ("T", T), ("H", H)])
    dh_next = optional_float_array("dh_T", dh_T, [("B", B), ("H", H)])  # gradient reaching h_t via h_{t+1}
    dc_next = optional_float_array("dc_T", dc_T, [("B", B), ("H", H)])  # gradient reaching c_t via c_{t+1}

    dweight_ih = np.zeros_like(params.weight_ih)
    dweight_hh = np.zeros_like(params.weight_hh)
    dbias = np.zeros_like(params.bias_ih)  # b_ih and b_hh enter as a sum, so they share one gradient
    dxs = np.zeros_like(xs)
    for t in range(T - 1, -1, -1):
        h_prev = h0 if t == 0 else cache.h[:, t - 1]
        c_prev = c0 if t == 0 else cache.c[:, t - 1]
        i, f, g, o, c = cache.i[:, t], cache.f[:, t], cache.g[:, t], cache.o[:, t], cache.c[:, t]
        tanh_c = np.tanh(c)

        dh = dhs[:, t] + dh_next  # δh_t
        do = dh * tanh_c  # h_t = o_t ⊙ tanh(c_t)
        dc = dh * o * (1 - tanh_c**2) + dc_next  # δc_t
        di = dc * g  # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        df = dc * c_prev
        dg = dc * i

        da_i = di * i * (1 - i)  # i_t = σ(a_i)
        da_f = df * f * (1 - f)  # f_t = σ(a_f)
        da_g = dg * (1 - g**2)  # g_t = tanh(a_g)
        da_o = do * o * (1 - o)  # o_t = σ(a_o)
        da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # (B, 4H), gate order (i, f, g, o)

        dweight_ih += da.T @ xs[:, t]
        dweight_hh += da.T @ h_prev
        dbias += da.sum(axis=0)
        dxs[:, t] = da @ params.weight_ih
        dh_next = da @ params.weight_hh  # becomes the recurrent part of δh_{t-1}
        dc_next = dc * f  # becomes the recurrent part of δc_{t-1}
    return LSTMGrads(
        weight_ih=dweight_ih,
        weight_hh=dweight_hh,
        bias_ih=dbias,
        bias_hh=dbias.copy(),
        xs=dxs,
        h0=dh_next,
        c0=dc_next,
    )
