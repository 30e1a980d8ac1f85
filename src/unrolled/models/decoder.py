"""``Decoder``: an embedding, a recurrent stack, a context (init, every step, attention) and a softmax."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unrolled.layers.recurrent import Recurrent
from unrolled.models.contexts import CONTEXTS

__all__ = ["Decoder"]


class Decoder(nn.Module):
    r"""A conditioned recurrent decoder.

    .. math::
        e_t = E[y_{t-1}], \quad x_t = \mathrm{in}(e_t), \quad (h_t, s_t) = \mathrm{RNN}(x_t, s_{t-1}), \quad
        o_t = \mathrm{out}(h_t), \quad p(y_t \mid y_{<t}, C) = \mathrm{softmax}(W_o\,\mathrm{drop}(o_t) + b_o)

    where ``in``/``out`` are the context's (see :mod:`unrolled.models.contexts`). The fed-back token
    :math:`y_{t-1}` is the reference with probability ``teacher_forcing`` per token, else a draw from the model's
    own previous distribution (scheduled sampling, Bengio et al. 2015, §2.4); 1 is teacher forcing, 0 free running.

    Args:
        vocab_size: V. embed_dim: E. hidden: H. layers: L. cell: a cell registry name.
        context: ``init``, ``every_step`` or ``attention``.
        summary_size: C_w, width of the context vector C. memory_size: K, width of the encoder states (attention).
        score, attention_hidden, max_length: the attention score (see :class:`~unrolled.layers.Attention`).
        dropout: on embeddings, between layers and before the softmax.
        **cell_options: passed to the cells.

    Shape:
        - tokens (teacher-forced input): (B, T); logits: (B, T, V); weights: (B, T, S) (attention) or None.
        - step: tokens (B,) -> logits (B, V).

    Example::

        >>> dec = Decoder(20, 8, 16, context="every_step", summary_size=6)
        >>> state = dec.start(dec.rnn.init_state(3), torch.randn(3, 6))
        >>> logits, weights = dec(torch.randint(0, 20, (3, 5)), state)
        >>> logits.shape
        torch.Size([3, 5, 20])
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden: int,
        layers: int = 1,
        cell: str = "lstm",
        context: str = "attention",
        summary_size: int = 0,
        memory_size: int = 0,
        score: str = "general",
        attention_hidden: int | None = None,
        max_length: int = 100,
        dropout: float = 0.0,
        **cell_options: Any,
    ):
        super().__init__()
        if context not in CONTEXTS:
            raise ValueError(f"context must be one of {sorted(CONTEXTS)}, got {context!r}")
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.context = CONTEXTS[context](
            embed_dim,
            hidden,
            summary_size,
            memory_size,
            score=score,
            attention_hidden=attention_hidden,
            max_length=max_length,
        )
        self.rnn = Recurrent(cell, self.context.input_size, hidden, num_layers=layers, dropout=dropout, **cell_options)
        self.out = nn.Linear(self.context.output_size, vocab_size)
        self.dropout = dropout

    def start(self, rnn_state: tuple, summary: Tensor, memory: Tensor | None = None, mask: Tensor | None = None):
        """The decoding state: the recurrent states and the context's tensors (a dict of batch-first tensors)."""
        return {"rnn": tuple(rnn_state), "ctx": self.context.begin(summary, memory, mask)}

    def _cells(self, x: Tensor, states: tuple) -> tuple[Tensor, tuple]:
        new = []
        for i, cell in enumerate(self.rnn.cells):
            if i > 0 and self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
            x, s = cell.step(cell.project_input(x), states[i])  # (B, I) -> (B, H)
            new.append(s)
        return x, tuple(new)

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        """One step: tokens (B,) -> logits (B, V); the attention weights of the step are in
        ``state["weights"]`` (B, S) for the attention context."""
        logits, state, _ = self._step(tokens, state)
        return logits, state

    def _step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict, Tensor | None]:
        e = F.dropout(self.embedding(tokens), self.dropout, self.training)  # (B,) -> (B, E)
        return self._step_embedded(e, state)

    def _step_embedded(self, e: Tensor, state: dict) -> tuple[Tensor, dict, Tensor | None]:
        x = self.context.inputs(e, state["ctx"])  # (B, I)
        h, rnn = self._cells(x, state["rnn"])  # (B, H)
        o, ctx, w = self.context.outputs(h, state["ctx"])  # (B, H)
        logits = self.out(F.dropout(o, self.dropout, self.training))  # (B, V)
        new = {"rnn": rnn, "ctx": ctx}
        if w is not None:
            new["weights"] = w
        return logits, new, w

    def forward(
        self,
        tokens: Tensor,
        state: dict,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Decode a whole target prefix ``tokens`` (B, T) (``<bos> y_1 .. y_{T-1}``) -> logits (B, T, V) and the
        attention weights (B, T, S) or None. ``teacher_forcing`` in [0, 1]: the probability per token of feeding
        the reference rather than a draw from the model."""
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be a probability in [0, 1], got {teacher_forcing!r}")
        emb = F.dropout(self.embedding(tokens), self.dropout, self.training)  # (B, T) -> (B, T, E)
        if not self.context.stepwise and teacher_forcing == 1.0:
            x = self.context.inputs(emb, state["ctx"])  # (B, T, I)
            h, _ = self.rnn(x, state["rnn"])  # (B, T, H): the whole sequence in one call (fused / scan path)
            return self.out(F.dropout(h, self.dropout, self.training)), None  # (B, T, V)
        B, T = tokens.shape
        logits, weights = [], []
        for t in range(T):
            e = emb[:, t]  # (B, E)
            if t > 0 and teacher_forcing < 1.0:
                with torch.no_grad():
                    probs = torch.softmax(logits[-1].float(), dim=-1)  # (B, V)
                    own = torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (B,)
                    keep = torch.rand(B, device=tokens.device, generator=generator) < teacher_forcing
                fed = torch.where(keep, tokens[:, t], own)  # (B,)
                e = F.dropout(self.embedding(fed), self.dropout, self.training)  # (B, E)
            lt, state, w = self._step_embedded(e, state)
            logits.append(lt)
            if w is not None:
                weights.append(w)
        return torch.stack(logits, dim=1), (torch.stack(weights, dim=1) if weights else None)  # (B, T, V)
