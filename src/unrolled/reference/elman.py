"""The Elman RNN with a softmax output layer, forward pass and back-propagation through time, in NumPy.

This file follows Goodfellow, Bengio & Courville, *Deep Learning* (MIT Press, 2016), section 10.2.2
("Computing the Gradient in a Recurrent Neural Network"), equations 10.8-10.12 and 10.17-10.28, symbol for
symbol. The network (Elman 1990, "Finding structure in time") reads a sequence x_1 ... x_T and emits a
distribution p_t over V classes at every step::

    a_t = b + W h_{t-1} + U x_t          (pre-activation of the hidden state)
    h_t = tanh(a_t)                      (hidden state)
    o_t = c + V h_t                      (output logits)
    p_t = softmax(o_t)                   (predicted distribution)
    L   = -Σ_t log p_t[y_t]              (negative log-likelihood of the targets y_t)

The book writes one sequence with column vectors. Here a batch of B independent sequences is processed at
once, stored batch-first with rows as vectors: ``xs[:, t]`` has shape (B, I) and holds x_t for every sequence
of the batch, so ``W h_{t-1}`` is written ``h_prev @ W.T``, and ``Wᵀ g`` is written ``g @ W``. The loss is
summed (not averaged) over the batch, so every gradient is a sum over the batch as well; a matrix product
such as ``do_t.T @ h_t`` (shape (V, B) times (B, H)) performs that sum over the batch.

Python indexes time from 0: ``h[:, t]`` is the book's h_{t+1}, and the initial state h_0 is kept apart in
``cache.h0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unrolled.reference._checks import as_class_indices, as_float_array, optional_float_array

__all__ = [
    "ElmanParams",
    "ElmanCache",
    "ElmanGrads",
    "ElmanRecurrenceGrads",
    "elman_forward",
    "elman_loss",
    "elman_backward",
    "elman_bptt",
]


@dataclass
class ElmanParams:
    """Weights of the Elman RNN with a softmax output layer, named as in Deep Learning, section 10.2.

    Args:
        U: input-to-hidden weights.
        W: hidden-to-hidden (recurrent) weights.
        V: hidden-to-output weights.
        b: hidden bias.
        c: output bias.

    Shape:
        - U: (H, I)
        - W: (H, H)
        - V: (V, H)
        - b: (H,)
        - c: (V,)

    Every field is converted to float64 on construction; a float64 array is kept as the same object.

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = ElmanParams.random(input_size=3, hidden_size=4, output_size=5, rng=rng)
        >>> params.W.shape, params.V.shape
        ((4, 4), (5, 4))
    """

    U: np.ndarray
    W: np.ndarray
    V: np.ndarray
    b: np.ndarray
    c: np.ndarray

    def __post_init__(self) -> None:
        self.U = as_float_array("U", self.U, [("H", None), ("I", None)])
        H = self.U.shape[0]
        self.W = as_float_array("W", self.W, [("H", H), ("H", H)])
        self.V = as_float_array("V", self.V, [("V", None), ("H", H)])
        self.b = as_float_array("b", self.b, [("H", H)])
        self.c = as_float_array("c", self.c, [("V", self.V.shape[0])])

    @property
    def input_size(self) -> int:
        """I, the number of input features."""
        return self.U.shape[1]

    @property
    def hidden_size(self) -> int:
        """H, the number of hidden units."""
        return self.U.shape[0]

    @property
    def output_size(self) -> int:
        """V, the number of output classes."""
        return self.V.shape[0]

    @classmethod
    def random(cls, input_size: int, hidden_size: int, output_size: int, *, rng: np.random.Generator) -> ElmanParams:
        """Draw every weight from U(-1/√H, 1/√H), the initialisation of ``torch.nn.RNN``."""
        k = 1.0 / np.sqrt(hidden_size)
        return cls(
            U=rng.uniform(-k, k, (hidden_size, input_size)),
            W=rng.uniform(-k, k, (hidden_size, hidden_size)),
            V=rng.uniform(-k, k, (output_size, hidden_size)),
            b=rng.uniform(-k, k, hidden_size),
            c=rng.uniform(-k, k, output_size),
        )


@dataclass
class ElmanCache:
    """Everything the forward pass computed, kept for the backward pass.

    Shape:
        - xs: (B, T, I), the inputs x_t
        - h0: (B, H), the initial state h_0
        - a: (B, T, H), the pre-activations a_t
        - h: (B, T, H), the hidden states h_t
        - o: (B, T, V), the logits o_t
        - p: (B, T, V), the probabilities p_t = softmax(o_t)
    """

    xs: np.ndarray
    h0: np.ndarray
    a: np.ndarray
    h: np.ndarray
    o: np.ndarray
    p: np.ndarray


@dataclass
class ElmanGrads:
    """Gradients ∂L/∂(.) of the loss for every weight of :class:`ElmanParams`, the inputs and h_0.

    Every field has the shape of the quantity it is the gradient of.
    """

    U: np.ndarray
    W: np.ndarray
    V: np.ndarray
    b: np.ndarray
    c: np.ndarray
    xs: np.ndarray
    h0: np.ndarray


@dataclass
class ElmanRecurrenceGrads:
    """Gradients of :func:`elman_bptt` for the recurrent layer alone: U, W, b, the inputs and h_0."""

    U: np.ndarray
    W: np.ndarray
    b: np.ndarray
    xs: np.ndarray
    h0: np.ndarray


def _log_softmax(o: np.ndarray) -> np.ndarray:
    """log softmax(o) over the last axis, computed as (o - max o) - log Σ exp(o - max o) so exp never overflows."""
    shifted = o - o.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _check_inputs(params: ElmanParams, xs: object, h0: object) -> tuple[np.ndarray, np.ndarray]:
    xs = as_float_array("xs", xs, [("B", None), ("T", None), ("I", params.input_size)])
    h0 = optional_float_array("h0", h0, [("B", xs.shape[0]), ("H", params.hidden_size)])
    return xs, h0


def _recurrence(params: ElmanParams, xs: np.ndarray, h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run a_t = b + W h_{t-1} + U x_t, h_t = tanh(a_t) over all steps; return (a, h), both (B, T, H)."""
    U, W, b = params.U, params.W, params.b
    B, T, _ = xs.shape
    a = np.zeros((B, T, params.hidden_size))
    h = np.zeros((B, T, params.hidden_size))
    for t in range(T):
        h_prev = h0 if t == 0 else h[:, t - 1]
        a[:, t] = b + h_prev @ W.T + xs[:, t] @ U.T  # a_t = b + W h_{t-1} + U x_t
        h[:, t] = np.tanh(a[:, t])  # h_t = tanh(a_t)
    return a, h


def elman_forward(params: ElmanParams, xs: np.ndarray, h0: np.ndarray | None = None) -> ElmanCache:
    """Run the Elman RNN with a softmax output layer over a batch of sequences (Deep Learning, eq. 10.8-10.11).

    For every step t = 1 ... T::

        a_t = b + W h_{t-1} + U x_t
        h_t = tanh(a_t)
        o_t = c + V h_t
        p_t = softmax(o_t)

    Args:
        params: the weights U, W, V, b, c.
        xs: the inputs x_1 ... x_T, batch-first.
        h0: the initial state h_0; zeros when omitted.

    Shape:
        - xs: (B, T, I)
        - h0: (B, H)
        - returns an :class:`ElmanCache` with a, h of shape (B, T, H) and o, p of shape (B, T, V).

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = ElmanParams.random(input_size=3, hidden_size=4, output_size=5, rng=rng)
        >>> cache = elman_forward(params, rng.standard_normal((2, 6, 3)))
        >>> cache.h.shape, cache.p.shape
        ((2, 6, 4), (2, 6, 5))
        >>> bool(np.allclose(cache.p.sum(axis=-1), 1.0))
        True
    """
    xs, h0 = _check_inputs(params, xs, h0)
    a, h = _recurrence(params, xs, h0)
    o = params.c + h @ params.V.T  # o_t = c + V h_t, for every t at once
    p = np.exp(_log_softmax(o))  # p_t = softmax(o_t)
    return ElmanCache(xs=xs, h0=h0, a=a, h=h, o=o, p=p)


def elman_loss(cache: ElmanCache, ys: np.ndarray) -> float:
    """The negative log-likelihood L = -Σ_b Σ_t log p_t[y_t] (Deep Learning, eq. 10.12), summed over the batch.

    Args:
        cache: the result of :func:`elman_forward`.
        ys: the target class y_t of every step.

    Shape:
        - ys: (B, T), integers in [0, V)
        - returns a float

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = ElmanParams.random(input_size=3, hidden_size=4, output_size=5, rng=rng)
        >>> cache = elman_forward(params, np.zeros((1, 2, 3)))
        >>> ys = np.array([[0, 4]])
        >>> bool(np.isclose(elman_loss(cache, ys), -np.log(cache.p[0, 0, 0]) - np.log(cache.p[0, 1, 4])))
        True
    """
    B, T, V = cache.o.shape
    ys = as_class_indices("ys", ys, [("B", B), ("T", T)], num_classes=V)
    log_p = _log_softmax(cache.o)
    batch, time = np.meshgrid(np.arange(B), np.arange(T), indexing="ij")
    return float(-log_p[batch, time, ys].sum())


def elman_backward(params: ElmanParams, cache: ElmanCache, ys: np.ndarray) -> ElmanGrads:
    """Back-propagation through time for :func:`elman_forward` and :func:`elman_loss` (Deep Learning, 10.2.2).

    The gradients, in the order the book derives them (τ = T is the last step, 1_{y} the one-hot vector of
    y, and diag(1 - h_t²) the Jacobian of tanh)::

        ∇o_t L = p_t - 1_{y_t}                                         (10.18)
        ∇h_τ L = Vᵀ ∇o_τ L                                             (10.19)
        ∇h_t L = Wᵀ diag(1 - h_{t+1}²) ∇h_{t+1} L + Vᵀ ∇o_t L,  t < τ   (10.21)
        ∇c L   = Σ_t ∇o_t L                                            (10.22)
        ∇b L   = Σ_t diag(1 - h_t²) ∇h_t L                             (10.23)
        ∇V L   = Σ_t ∇o_t L h_tᵀ                                       (10.24)
        ∇W L   = Σ_t diag(1 - h_t²) ∇h_t L h_{t-1}ᵀ                    (10.26)
        ∇U L   = Σ_t diag(1 - h_t²) ∇h_t L x_tᵀ                        (10.28)

    and, beyond the book, the gradients for the inputs and the initial state::

        ∇x_t L = Uᵀ diag(1 - h_t²) ∇h_t L
        ∇h_0 L = Wᵀ diag(1 - h_1²) ∇h_1 L

    Args:
        params: the weights used by the forward pass.
        cache: the result of :func:`elman_forward`.
        ys: the target class y_t of every step.

    Shape:
        - ys: (B, T), integers in [0, V)
        - returns an :class:`ElmanGrads` whose fields have the shapes of U, W, V, b, c, xs and h0.

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = ElmanParams.random(input_size=3, hidden_size=4, output_size=5, rng=rng)
        >>> cache = elman_forward(params, rng.standard_normal((2, 6, 3)))
        >>> grads = elman_backward(params, cache, ys=rng.integers(0, 5, (2, 6)))
        >>> grads.W.shape, grads.U.shape
        ((4, 4), (4, 3))
    """
    _check_cache(params, cache)
    U, W, V = params.U, params.W, params.V
    xs, h0, h, p = cache.xs, cache.h0, cache.h, cache.p
    B, T, _ = xs.shape
    ys = as_class_indices("ys", ys, [("B", B), ("T", T)], num_classes=params.output_size)

    # (10.18) ∇o_t = p_t - 1_{y_t}
    one_hot = np.eye(params.output_size)[ys]  # (B, T, V)
    do = p - one_hot

    # (10.19) and (10.21): ∇h_t, from the last step back to the first.
    dh = np.zeros_like(h)
    dh[:, T - 1] = do[:, T - 1] @ V  # ∇h_τ = Vᵀ ∇o_τ
    for t in range(T - 2, -1, -1):
        dh[:, t] = (dh[:, t + 1] * (1 - h[:, t + 1] ** 2)) @ W + do[:, t] @ V

    # (10.22)-(10.28): every parameter collects one term per step.
    dc = np.zeros_like(params.c)
    db = np.zeros_like(params.b)
    dV = np.zeros_like(V)
    dW = np.zeros_like(W)
    dU = np.zeros_like(U)
    dxs = np.zeros_like(xs)
    for t in range(T):
        h_prev = h0 if t == 0 else h[:, t - 1]
        da = dh[:, t] * (1 - h[:, t] ** 2)  # diag(1 - h_t²) ∇h_t, which is ∇a_t
        dc += do[:, t].sum(axis=0)  # ∇c = Σ_t ∇o_t
        db += da.sum(axis=0)  # ∇b = Σ_t diag(1 - h_t²) ∇h_t
        dV += do[:, t].T @ h[:, t]  # ∇V = Σ_t ∇o_t h_tᵀ
        dW += da.T @ h_prev  # ∇W = Σ_t diag(1 - h_t²) ∇h_t h_{t-1}ᵀ
        dU += da.T @ xs[:, t]  # ∇U = Σ_t diag(1 - h_t²) ∇h_t x_tᵀ
        dxs[:, t] = da @ U  # ∇x_t = Uᵀ diag(1 - h_t²) ∇h_t
    dh0 = (dh[:, 0] * (1 - h[:, 0] ** 2)) @ W  # ∇h_0 = Wᵀ diag(1 - h_1²) ∇h_1
    return ElmanGrads(U=dU, W=dW, V=dV, b=db, c=dc, xs=dxs, h0=dh0)


def elman_bptt(
    params: ElmanParams,
    xs: np.ndarray,
    h0: np.ndarray | None,
    dhs: np.ndarray,
    dh_T_extra: np.ndarray | None = None,
) -> ElmanRecurrenceGrads:
    """Back-propagation through time for the recurrent layer alone, given ∂L/∂h_t from outside.

    Runs the recurrence a_t = b + W h_{t-1} + U x_t, h_t = tanh(a_t) (``params.V`` and ``params.c`` are not
    used), then propagates gradients the way :func:`elman_backward` does, with the output-layer term Vᵀ ∇o_t
    replaced by the supplied ``dhs[:, t]``, the gradient that reaches h_t from whatever sits on top of the
    layer (the "direct" part, not the part that flows back through h_{t+1})::

        g_τ   = dhs_τ + dh_T_extra
        g_t   = Wᵀ diag(1 - h_{t+1}²) g_{t+1} + dhs_t,   t < τ         (g_t is the total ∇h_t L)
        ∇b L  = Σ_t diag(1 - h_t²) g_t
        ∇W L  = Σ_t diag(1 - h_t²) g_t h_{t-1}ᵀ
        ∇U L  = Σ_t diag(1 - h_t²) g_t x_tᵀ
        ∇x_t L = Uᵀ diag(1 - h_t²) g_t
        ∇h_0 L = Wᵀ diag(1 - h_1²) g_1

    This is the gradient a recurrent layer such as ``torch.nn.RNN(nonlinearity="tanh")`` computes when its
    output sequence receives ``dhs`` and its final state h_n receives ``dh_T_extra``. Since the loss sees b
    only through a_t, the two biases of ``torch.nn.RNN`` both receive ∇b.

    Args:
        params: the weights; only U, W and b are used.
        xs: the inputs x_1 ... x_T, batch-first.
        h0: the initial state h_0, or None for zeros.
        dhs: ∂L/∂h_t from outside the layer, for every step.
        dh_T_extra: an extra ∂L/∂h_T on the final state (for instance from the next segment in truncated
            BPTT, or from a classifier that reads h_T); zeros when omitted.

    Shape:
        - xs: (B, T, I)
        - h0: (B, H)
        - dhs: (B, T, H)
        - dh_T_extra: (B, H)
        - returns an :class:`ElmanRecurrenceGrads` whose fields have the shapes of U, W, b, xs and h0.

    Examples::

        >>> rng = np.random.default_rng(0)
        >>> params = ElmanParams.random(input_size=3, hidden_size=4, output_size=5, rng=rng)
        >>> xs = rng.standard_normal((2, 6, 3))
        >>> grads = elman_bptt(params, xs, None, dhs=np.ones((2, 6, 4)))  # L = Σ_t Σ_units h_t
        >>> grads.W.shape, grads.h0.shape
        ((4, 4), (2, 4))
    """
    xs, h0 = _check_inputs(params, xs, h0)
    B, T, _ = xs.shape
    H = params.hidden_size
    dhs = as_float_array("dhs", dhs, [("B", B), ("T", T), ("H", H)])
    dh_T_extra = optional_float_array("dh_T_extra", dh_T_extra, [("B", B), ("H", H)])
    U, W = params.U, params.W
    _, h = _recurrence(params, xs, h0)

    # The total gradient g_t = ∇h_t L, from the last step back to the first.
    g = np.zeros_like(h)
    g[:, T - 1] = dhs[:, T - 1] + dh_T_extra
    for t in range(T - 2, -1, -1):
        g[:, t] = (g[:, t + 1] * (1 - h[:, t + 1] ** 2)) @ W + dhs[:, t]

    db = np.zeros_like(params.b)
    dW = np.zeros_like(W)
    dU = np.zeros_like(U)
    dxs = np.zeros_like(xs)
    for t in range(T):
        h_prev = h0 if t == 0 else h[:, t - 1]
        da = g[:, t] * (1 - h[:, t] ** 2)  # diag(1 - h_t²) g_t, which is ∇a_t
        db += da.sum(axis=0)
        dW += da.T @ h_prev
        dU += da.T @ xs[:, t]
        dxs[:, t] = da @ U
    dh0 = (g[:, 0] * (1 - h[:, 0] ** 2)) @ W
    return ElmanRecurrenceGrads(U=dU, W=dW, b=db, xs=dxs, h0=dh0)


def _check_cache(params: ElmanParams, cache: ElmanCache) -> None:
    """Reject a cache that was not produced by :func:`elman_forward` with weights of these sizes."""
    I, H, V = params.input_size, params.hidden_size, params.output_size
    got = (cache.xs.shape[-1], cache.h.shape[-1], cache.p.shape[-1])
    if got != (I, H, V):
        raise ValueError(f"cache: expected sizes (I={I}, H={H}, V={V}) from params, got {got}")
