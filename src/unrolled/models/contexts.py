r"""How a decoder is conditioned on what it translates: the ways the textbook describes, resolved by name.

Every context turns the decoder's input embedding :math:`e_t` into the recurrent input :math:`x_t` and the
recurrent output :math:`h_t` into the vector :math:`o_t` read by the softmax:

===============  =========================================  ==============================================
name             :math:`x_t`                                :math:`o_t`
===============  =========================================  ==============================================
``init``         :math:`e_t` (C enters only as the initial  :math:`h_t` (Sutskever et al. 2014)
                 state, through the bridge)
``every_step``   :math:`[e_t; C]`                           :math:`h_t` (Cho et al. 2014: C at every step)
``attention``    :math:`[e_t; \tilde h_{t-1}]` (input       :math:`\tilde h_t = \tanh(W_c [c_t; h_t])`,
                 feeding)                                   :math:`c_t, \alpha_t = \mathrm{Attention}(h_t,
                                                            \text{encoder states})` (Luong et al. 2015, eq. 5)
===============  =========================================  ==============================================

A context keeps what it needs in a dict of batch-first tensors (so decoders can reorder it for beam search):
``summary`` C (B, C_w); for attention ``memory`` (B, S, K), ``keys`` (its query-independent score part),
``mask`` (B, S) and ``feed`` :math:`\tilde h_{t-1}` (B, H).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from unrolled.layers.attention import Attention

__all__ = ["CONTEXTS", "AttentionContext", "EveryStepContext", "InitContext"]


class InitContext(nn.Module):
    """C as the initial state only (Sutskever et al. 2014): :math:`x_t = e_t`, :math:`o_t = h_t`."""

    stepwise = False  # a teacher-forced sequence can run through the recurrent layer in one call
    needs_memory = False

    def __init__(self, embed_dim: int, hidden: int, summary_size: int, memory_size: int = 0, **_: object):
        super().__init__()
        self.input_size, self.output_size = embed_dim, hidden

    def begin(self, summary: Tensor, memory: Tensor | None, mask: Tensor | None) -> dict:
        return {}

    def inputs(self, emb: Tensor, ctx: dict) -> Tensor:
        """emb (B, E) or (B, T, E) -> x of the same leading shape."""
        return emb

    def outputs(self, h: Tensor, ctx: dict) -> tuple[Tensor, dict, Tensor | None]:
        """h (B, H) -> (o (B, H), the new ctx, attention weights or None)."""
        return h, ctx, None


class EveryStepContext(InitContext):
    """C as an extra input at every step (Cho et al. 2014): :math:`x_t = [e_t; C]`, :math:`o_t = h_t`."""

    def __init__(self, embed_dim: int, hidden: int, summary_size: int, memory_size: int = 0, **_: object):
        super().__init__(embed_dim, hidden, summary_size)
        self.input_size = embed_dim + summary_size

    def begin(self, summary: Tensor, memory: Tensor | None, mask: Tensor | None) -> dict:
        return {"summary": summary}

    def inputs(self, emb: Tensor, ctx: dict) -> Tensor:
        C = ctx["summary"]  # (B, C_w)
        if emb.dim() == 3:
            C = C.unsqueeze(1).expand(-1, emb.shape[1], -1)  # (B, T, C_w)
        return torch.cat([emb, C], dim=-1)  # (B, [T,] E + C_w)


class AttentionContext(InitContext):
    r"""Attention over all encoder states with input feeding (Luong et al. 2015, §3.1 and §3.3):
    :math:`c_t, \alpha_t = \mathrm{Attention}(h_t, \bar h_{1..S})`,
    :math:`\tilde h_t = \tanh(W_c[c_t; h_t])` (``combine``), :math:`x_{t+1} = [e_{t+1}; \tilde h_t]`."""

    stepwise = True
    needs_memory = True

    def __init__(
        self,
        embed_dim: int,
        hidden: int,
        summary_size: int,
        memory_size: int = 0,
        score: str = "general",
        attention_hidden: int | None = None,
        max_length: int = 100,
        **_: object,
    ):
        super().__init__(embed_dim, hidden, summary_size)
        self.input_size = embed_dim + hidden
        self.attention = Attention(score, hidden, memory_size, hidden_size=attention_hidden, max_length=max_length)
        self.combine = nn.Linear(memory_size + hidden, hidden, bias=False)

    def begin(self, summary: Tensor, memory: Tensor | None, mask: Tensor | None) -> dict:
        if memory is None:
            raise ValueError("the attention context needs the encoder states (memory)")
        feed = memory.new_zeros(memory.shape[0], self.output_size)  # (B, H): h~_0 = 0
        return {"memory": memory, "keys": self.attention.prepare(memory), "mask": mask, "feed": feed}

    def inputs(self, emb: Tensor, ctx: dict) -> Tensor:
        return torch.cat([emb, ctx["feed"]], dim=-1)  # (B, E + H)

    def outputs(self, h: Tensor, ctx: dict) -> tuple[Tensor, dict, Tensor | None]:
        c, a = self.attention.attend(h.unsqueeze(1), ctx["keys"], ctx["memory"], ctx["mask"])  # (B,1,K), (B,1,S)
        c, a = c.squeeze(1), a.squeeze(1)  # (B, K), (B, S)
        h_tilde = torch.tanh(self.combine(torch.cat([c, h], dim=-1)))  # (B, K + H) -> (B, H)
        return h_tilde, {**ctx, "feed": h_tilde}, a


CONTEXTS: dict[str, type[InitContext]] = {
    "init": InitContext,
    "every_step": EveryStepContext,
    "attention": AttentionContext,
}
