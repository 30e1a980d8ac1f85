"""Reference implementations of recurrent networks and their gradients, in plain NumPy (float64).

What this is for:

- **Teaching.** Back-propagation through time written out as the textbook derives it (Goodfellow, Bengio &
  Courville, *Deep Learning*, 2016, section 10.2.2), one file per model, one loop over time, every gate
  derivative spelled out. Each function's docstring shows the equations it implements, and the variable
  names follow the math (``a``, ``h``, ``o``, ``p``, ``U``, ``W``, ``V``, ``b``, ``c`` for the Elman RNN;
  ``i``, ``f``, ``g``, ``o`` for the LSTM; ``r``, ``z``, ``n`` for the GRU).
- **Ground truth.** An independent implementation, with no autograd involved, against which the PyTorch
  cells and layers of :mod:`unrolled` can be tested. The tests of this package check each backward pass
  against central finite differences of its own forward pass and against ``torch.nn.RNN``, ``torch.nn.LSTM``
  and ``torch.nn.GRU`` to 1e-10.

Conventions shared by every file:

- Sequences are batch-first, ``xs`` of shape (B, T, I) with time on axis 1, as everywhere in :mod:`unrolled`.
  Rows are vectors, so the book's ``W h`` is written ``h @ W.T`` and ``Wᵀ g`` is written ``g @ W``.
- Losses are summed over batch and time, so gradients are sums over both.
- The LSTM and GRU weights use the layout and gate order of ``torch.nn.LSTM`` (i, f, g, o) and
  ``torch.nn.GRU`` (r, z, n), so they copy one to one into ``weight_ih_l0`` etc.
- A backward pass takes the upstream gradient ∂L/∂h_t for every step (``dhs``) plus optional gradients
  on the final state, like the outputs ``output`` and ``h_n`` of a PyTorch layer.
- A wrong shape raises a one-line ``ValueError`` naming the expected and the received shape.

Example::

    >>> import numpy as np
    >>> from unrolled.reference import LSTMParams, lstm_backward, lstm_forward
    >>> from unrolled.reference import numerical_gradient, relative_error
    >>> rng = np.random.default_rng(0)
    >>> params = LSTMParams.random(input_size=3, hidden_size=4, rng=rng)
    >>> xs, R = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    >>> loss = lambda _: float(np.sum(lstm_forward(params, xs).h * R))  # L = Σ_t h_t · R_t
    >>> grads = lstm_backward(params, lstm_forward(params, xs), dhs=R)
    >>> bool(relative_error(grads.weight_hh, numerical_gradient(loss, params.weight_hh)) < 1e-6)
    True
"""

from unrolled.reference.elman import (
    ElmanCache,
    ElmanGrads,
    ElmanParams,
    ElmanRecurrenceGrads,
    elman_backward,
    elman_bptt,
    elman_forward,
    elman_loss,
)
from unrolled.reference.finite_differences import numerical_gradient, relative_error
from unrolled.reference.gru import (
    GRU_RESET_VARIANTS,
    GRUCache,
    GRUGrads,
    GRUParams,
    gru_backward,
    gru_forward,
)
from unrolled.reference.lstm import LSTMCache, LSTMGrads, LSTMParams, lstm_backward, lstm_forward

__all__ = [
    "ElmanParams",
    "ElmanCache",
    "ElmanGrads",
    "ElmanRecurrenceGrads",
    "elman_forward",
    "elman_loss",
    "elman_backward",
    "elman_bptt",
    "LSTMParams",
    "LSTMCache",
    "LSTMGrads",
    "lstm_forward",
    "lstm_backward",
    "GRU_RESET_VARIANTS",
    "GRUParams",
    "GRUCache",
    "GRUGrads",
    "gru_forward",
    "gru_backward",
    "numerical_gradient",
    "relative_error",
]
