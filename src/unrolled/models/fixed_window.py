r"""The fixed-window neural language model of Bengio et al. (2003), "A Neural Probabilistic Language Model".

The non-recurrent baseline: the next token is predicted from the embeddings of the previous n - 1 tokens only.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _check_ids(name: str, value: object, ndim: int) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor of token ids, got {type(value).__name__}")
    if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise TypeError(f"expected {name} to hold integer token ids, got dtype {value.dtype}")
    if value.dim() != ndim:
        raise ValueError(f"expected {name} to be {ndim}-D, got shape {tuple(value.shape)}")
    return value


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected {name} to be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"expected {name} >= {minimum}, got {value}")
    return value


def windows(ids: Tensor, context: int, pad_id: int | None = 0) -> tuple[Tensor, Tensor]:
    """Cut a token stream into (context window, next token) training pairs with ``Tensor.unfold``.

    Row i of ``inputs`` holds the ``context`` tokens before ``targets[i]``, oldest first. With ``pad_id`` the
    stream is left-padded with ``context`` copies of it, so every token is a target (N = T); with
    ``pad_id=None`` only full windows are used (N = T - context).

    Args:
        ids: a 1-D integer tensor of token ids, shape (T,).
        context: window length n - 1 >= 1.
        pad_id: id used before the start of the stream (a pad or begin-of-sequence id), or ``None``.

    Shape:
        - Output: ``inputs`` (N, n - 1) and ``targets`` (N,), int64.

    Example::

        >>> windows(torch.tensor([5, 6, 7]), 2, pad_id=0)
        (tensor([[0, 0],
                [0, 5],
                [5, 6]]), tensor([5, 6, 7]))
    """
    ids = _check_ids("ids", ids, 1).long()
    context = _check_int("context", context, 1)
    if pad_id is not None:
        _check_int("pad_id", pad_id, 0)
        ids_padded = torch.cat([ids.new_full((context,), pad_id), ids])
        targets = ids
    else:
        if ids.shape[0] <= context:
            raise ValueError(f"expected more than context={context} ids when pad_id is None, got {ids.shape[0]}")
        ids_padded = ids
        targets = ids[context:]
    inputs = ids_padded[:-1].unfold(0, context, 1)
    return inputs.contiguous(), targets.clone()


class FixedWindowLM(nn.Module):
    r"""Fixed-window neural language model (Bengio et al. 2003, eq. 1):

    .. math::

        x = [C(w_{t-n+1}); \dots; C(w_{t-1})], \qquad
        y = b + W x + U \tanh(d + H x), \qquad
        P(w_t = v \mid w_{t-n+1}^{t-1}) = \operatorname{softmax}(y)_v

    where :math:`C` is the shared embedding table (``embedding``), :math:`H, d` the hidden layer
    (``hidden_proj``), :math:`U, b` the output layer (``output_proj``) and :math:`W` the optional direct
    input-to-output connections (``direct_proj``, no bias). The window is concatenated oldest token first.
    Dropout (if any) is applied to :math:`x` and to the hidden activations during training.

    The model also speaks :mod:`unrolled.decode`'s step protocol, with the rolling window as the state, so
    ``unrolled.decode.generate(model, prime_ids, ...)`` works (call ``model.eval()`` first).

    Args:
        vocab_size: V.
        context: n - 1, the number of previous tokens seen (>= 1).
        embed_dim: m, the embedding size per token.
        hidden: H, the number of tanh hidden units.
        direct: include the direct connections :math:`W x`.
        dropout: dropout probability on :math:`x` and on the hidden layer.
        pad_id: id that fills the window before the start of a sequence (the initial decoding state).

    Shape:
        - Input: (B, n - 1) token ids, oldest first.
        - Output: (B, V) logits :math:`y` for the next token.

    Example::

        >>> lm = FixedWindowLM(vocab_size=10, context=3, embed_dim=8, hidden=16)
        >>> inputs, targets = windows(torch.tensor([1, 2, 3, 4, 5]), context=3)
        >>> loss = nn.functional.cross_entropy(lm(inputs), targets)
    """

    def __init__(
        self,
        vocab_size: int,
        context: int,
        embed_dim: int,
        hidden: int,
        direct: bool = True,
        dropout: float = 0.0,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        _check_int("vocab_size", vocab_size, 1)
        _check_int("context", context, 1)
        _check_int("embed_dim", embed_dim, 1)
        _check_int("hidden", hidden, 1)
        if not isinstance(direct, bool):
            raise TypeError(f"expected direct to be a bool, got {type(direct).__name__}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"expected 0 <= dropout < 1, got {dropout!r}")
        _check_int("pad_id", pad_id, 0)
        if pad_id >= vocab_size:
            raise ValueError(f"expected pad_id < vocab_size={vocab_size}, got {pad_id}")
        self.vocab_size, self.context, self.embed_dim, self.hidden = vocab_size, context, embed_dim, hidden
        self.pad_id = pad_id
        self.embedding = nn.Embedding(vocab_size, embed_dim)  # C
        self.hidden_proj = nn.Linear(context * embed_dim, hidden)  # H, d
        self.output_proj = nn.Linear(hidden, vocab_size)  # U, b
        self.direct_proj = nn.Linear(context * embed_dim, vocab_size, bias=False) if direct else None  # W
        self.dropout = nn.Dropout(dropout)

    def forward(self, context_ids: Tensor) -> Tensor:
        ids = _check_ids("context_ids", context_ids, 2)
        if ids.shape[1] != self.context:
            raise ValueError(f"expected context_ids of shape (B, {self.context}), got shape {tuple(ids.shape)}")
        x = self.dropout(self.embedding(ids).flatten(1))  # (B, (n-1) m)
        y = self.output_proj(self.dropout(torch.tanh(self.hidden_proj(x))))
        if self.direct_proj is not None:
            y = y + self.direct_proj(x)
        return y

    # --- decoding protocol (see unrolled.decode.generate) -----------------------------------------------
    def init_state(self, batch: int, device: torch.device | str | None = None) -> Tensor:
        """The window before any token: (B, n - 1) filled with ``pad_id``."""
        device = device if device is not None else self.embedding.weight.device
        return torch.full((batch, self.context), self.pad_id, dtype=torch.long, device=device)

    def step(self, tokens: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Push ``tokens`` (B,) into the window ``state`` (B, n - 1); return (logits (B, V), new window)."""
        tokens = _check_ids("tokens", tokens, 1).long()
        if state is None:
            state = self.init_state(tokens.shape[0], tokens.device)
        window = torch.cat([state[:, 1:], tokens[:, None]], dim=1)
        return self(window), window

    def prime(self, tokens: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Push a prompt (B, T) into the window at once; return (logits after its last token, new window)."""
        tokens = _check_ids("tokens", tokens, 2).long()
        if tokens.shape[1] == 0:
            raise ValueError("expected a non-empty prompt of shape (B, T >= 1), got T = 0")
        if state is None:
            state = self.init_state(tokens.shape[0], tokens.device)
        window = torch.cat([state, tokens], dim=1)[:, -self.context :]
        return self(window), window

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, context={self.context}, embed_dim={self.embed_dim}, "
            f"hidden={self.hidden}, direct={self.direct_proj is not None}, pad_id={self.pad_id}"
        )
