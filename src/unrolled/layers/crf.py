r"""``CRF``: a linear-chain conditional random field over per-token scores (Lafferty et al. 2001; as the output
layer of a BiLSTM tagger, Lample et al. 2016, "Neural Architectures for Named Entity Recognition", sec. 2.2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from unrolled.layers.lengths import resolve_lengths

__all__ = ["CRF", "REDUCTIONS"]

REDUCTIONS = ("sum", "mean", "token_mean", "none")
_FORBIDDEN = -1.0e4  # score added to a forbidden transition: finite, so log-sum-exp never sees only -inf


class CRF(nn.Module):
    r"""Linear-chain CRF: a score for every whole tag sequence, trained by maximum likelihood, decoded by Viterbi.

    For emissions :math:`P \in \mathbb{R}^{n \times K}` (the tagger's per-token scores, :math:`n` the sentence
    length, :math:`K` the tags) and a tag sequence :math:`y = (y_1, \dots, y_n)` (Lample et al. 2016, eq. 1, with
    start and end scores in place of their extra start/end tags):

    .. math::
        s(y) = \pi_{y_1} + \sum_{t=1}^{n} P_{t, y_t} + \sum_{t=2}^{n} A_{y_{t-1}, y_t} + \omega_{y_n}

    :math:`A` = ``transitions`` (:math:`A_{ij}`: score of tag :math:`j` right after tag :math:`i`),
    :math:`\pi` = ``start_transitions``, :math:`\omega` = ``end_transitions``. The model is
    :math:`p(y \mid P) = \exp s(y) / Z` with the log-partition computed by the forward algorithm in log space:

    .. math::
        \alpha_1 = \pi + P_1, \qquad
        \alpha_t(j) = P_{t,j} + \log \sum_i \exp\big(\alpha_{t-1}(i) + A_{ij}\big), \qquad
        \log Z = \log \sum_j \exp\big(\alpha_n(j) + \omega_j\big)

    and the loss is the negative log-likelihood :math:`-\log p(y \mid P) = \log Z - s(y)` (eq. 2). Viterbi
    decoding replaces the log-sum-exp by a max and follows back-pointers:
    :math:`y^* = \arg\max_y s(y)`. Padded steps (beyond each sentence's length) leave :math:`\alpha` unchanged and
    add nothing to :math:`s(y)`.

    Constraints (e.g. BIO: ``I-X`` only after ``B-X``/``I-X``, as produced by
    :func:`unrolled.text.tagschemes.allowed_transitions`) add :math:`-10^4` to every forbidden transition,
    start and end, so neither the partition function nor Viterbi gives them weight (a finite constant rather
    than :math:`-\infty`: log-sum-exp and its gradient stay finite when every path into a tag is forbidden).

    Args:
        num_tags: K, the number of tags.
        allowed: optional ``(K, K)`` booleans, ``allowed[i][j]``: tag ``j`` may follow tag ``i``.
        allowed_start: optional ``(K,)`` booleans: the tags a sentence may start with.
        allowed_end: optional ``(K,)`` booleans: the tags a sentence may end with.

    Shape:
        B batch, T time, K tags.

        - emissions: (B, T, K); tags: (B, T) integers in ``[0, K)`` (any value at padded steps);
        - lengths: (B,) in 1..T, or mask: (B, T) True on a prefix of each row (neither: all of length T);
        - :meth:`log_partition`, :meth:`score`: (B,); :meth:`forward`: a scalar, or (B,) with ``reduction="none"``;
        - :meth:`viterbi`: paths (B, T) (0 past each length) and their scores (B,).

    Example::

        >>> crf = CRF(3, allowed=[[True, True, False], [True, True, True], [True, True, True]])
        >>> emissions = torch.randn(2, 4, 3)
        >>> nll = crf(emissions, torch.tensor([[0, 1, 2, 0], [1, 1, 0, 0]]), lengths=torch.tensor([4, 2]))
        >>> paths, scores = crf.viterbi(emissions, lengths=torch.tensor([4, 2]))
        >>> paths.shape, scores.shape
        (torch.Size([2, 4]), torch.Size([2]))
    """

    def __init__(
        self,
        num_tags: int,
        allowed: Sequence[Sequence[bool]] | Tensor | None = None,
        allowed_start: Sequence[bool] | Tensor | None = None,
        allowed_end: Sequence[bool] | Tensor | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"CRF expected num_tags to be an int >= 1, got {num_tags!r}")
        self.num_tags = K = num_tags
        # Lample et al. initialise uniformly; small values keep the first epochs close to a softmax tagger
        self.transitions = nn.Parameter(torch.empty(K, K).uniform_(-0.1, 0.1))
        self.start_transitions = nn.Parameter(torch.empty(K).uniform_(-0.1, 0.1))
        self.end_transitions = nn.Parameter(torch.empty(K).uniform_(-0.1, 0.1))
        self.register_buffer("transition_penalty", _penalty("allowed", allowed, (K, K)))
        self.register_buffer("start_penalty", _penalty("allowed_start", allowed_start, (K,)))
        self.register_buffer("end_penalty", _penalty("allowed_end", allowed_end, (K,)))

    def extra_repr(self) -> str:
        constrained = bool((self.transition_penalty < 0).any() or (self.start_penalty < 0).any())
        return f"num_tags={self.num_tags}, constrained={constrained or bool((self.end_penalty < 0).any())}"

    # the scores with the constraints applied, resolved once per call
    def _scores(self) -> tuple[Tensor, Tensor, Tensor]:
        return (
            self.transitions + self.transition_penalty,  # (K, K)
            self.start_transitions + self.start_penalty,  # (K,)
            self.end_transitions + self.end_penalty,  # (K,)
        )

    def _check(self, emissions: Tensor, lengths: Tensor | None, mask: Tensor | None) -> Tensor:
        """Validate emissions and return lengths (B,) (full length when neither lengths nor mask is given)."""
        if not isinstance(emissions, Tensor) or emissions.dim() != 3 or not emissions.is_floating_point():
            got = tuple(emissions.shape) if isinstance(emissions, Tensor) else type(emissions).__name__
            raise ValueError(f"CRF expected float emissions of shape (B, T, K), got {got}")
        B, T, K = emissions.shape
        if K != self.num_tags:
            raise ValueError(f"CRF expected K = {self.num_tags} emission scores per token, got {K}")
        if T == 0:
            raise ValueError("CRF got an empty sequence (T = 0); expected at least one time step")
        resolved = resolve_lengths(lengths, mask, B, T, emissions.device)
        if resolved is None:
            return torch.full((B,), T, dtype=torch.long, device=emissions.device)
        return resolved

    def log_partition(self, emissions: Tensor, lengths: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        r""":math:`\log Z` of every sentence (B,), by the forward algorithm."""
        lengths = self._check(emissions, lengths, mask)
        A, start, end = self._scores()
        e = emissions.transpose(0, 1)  # (B, T, K) -> (T, B, K)
        steps = _step_mask(lengths, e.shape[0])  # (T, B, 1)
        alpha = start + e[0]  # (B, K)
        for t in range(1, e.shape[0]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + A, dim=1) + e[t]  # (B, K, 1) + (K, K) -> (B, K)
            alpha = torch.where(steps[t], nxt, alpha)  # (B, K)
        return torch.logsumexp(alpha + end, dim=1)  # (B,)

    def score(
        self, emissions: Tensor, tags: Tensor, lengths: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        r""":math:`s(y)` of the given tag sequences (B,)."""
        lengths = self._check(emissions, lengths, mask)
        tags = self._check_tags(tags, emissions, lengths)
        A, start, end = self._scores()
        B, T, _ = emissions.shape
        on = _step_mask(lengths, T).squeeze(2).transpose(0, 1).to(emissions.dtype)  # (B, T)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T, K) -> (B, T)
        trans = A[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        rows = torch.arange(B, device=emissions.device)
        last = tags[rows, lengths - 1]  # (B,)
        return start[tags[:, 0]] + (emit * on).sum(1) + (trans * on[:, 1:]).sum(1) + end[last]  # (B,)

    def forward(
        self,
        emissions: Tensor,
        tags: Tensor,
        lengths: Tensor | None = None,
        mask: Tensor | None = None,
        reduction: str = "sum",
    ) -> Tensor:
        r"""Negative log-likelihood :math:`\log Z - s(y)`: summed (``"sum"``), averaged over sentences
        (``"mean"``) or over tokens (``"token_mean"``), or per sentence (``"none"``)."""
        if reduction not in REDUCTIONS:
            raise ValueError(f"CRF expected reduction in {REDUCTIONS}, got {reduction!r}")
        lengths = self._check(emissions, lengths, mask)
        nll = self.log_partition(emissions, lengths) - self.score(emissions, tags, lengths)  # (B,)
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        if reduction == "token_mean":
            return nll.sum() / lengths.sum()
        return nll

    @torch.no_grad()
    def viterbi(
        self, emissions: Tensor, lengths: Tensor | None = None, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        r"""The best tag sequence :math:`\arg\max_y s(y)` of every sentence and its score.

        Returns:
            ``(paths, scores)``: paths (B, T) long, 0 past each sentence's length; scores (B,).
        """
        lengths = self._check(emissions, lengths, mask)
        A, start, end = self._scores()
        e = emissions.transpose(0, 1)  # (T, B, K)
        T, B, K = e.shape
        steps = _step_mask(lengths, T)  # (T, B, 1)
        keep = torch.arange(K, device=e.device).expand(B, K)  # (B, K): back-pointer of a padded step
        delta = start + e[0]  # (B, K)
        pointers = []
        for t in range(1, T):
            best, arg = (delta.unsqueeze(2) + A).max(dim=1)  # (B, K, K) -> (B, K), (B, K)
            delta = torch.where(steps[t], best + e[t], delta)  # (B, K)
            pointers.append(torch.where(steps[t], arg, keep))  # (B, K)
        scores, tag = (delta + end).max(dim=1)  # (B,), (B,)
        path = [tag]
        for ptr in reversed(pointers):
            tag = ptr.gather(1, tag.unsqueeze(1)).squeeze(1)  # (B,)
            path.append(tag)
        paths = torch.stack(path[::-1], dim=1)  # (B, T)
        return paths.masked_fill(~steps.squeeze(2).transpose(0, 1), 0), scores

    def _check_tags(self, tags: Tensor, emissions: Tensor, lengths: Tensor) -> Tensor:
        B, T, K = emissions.shape
        if not isinstance(tags, Tensor) or tags.shape != (B, T) or tags.is_floating_point():
            got = tuple(tags.shape) if isinstance(tags, Tensor) else type(tags).__name__
            raise ValueError(f"CRF expected integer tags of shape (B, T) = ({B}, {T}), got {got}")
        on = _step_mask(lengths, T).squeeze(2).transpose(0, 1)  # (B, T)
        tags = tags.to(emissions.device, torch.long).masked_fill(~on, 0)  # padding -> a valid index
        if bool(((tags < 0) | (tags >= K)).any()):
            raise ValueError(
                f"CRF expected tags in [0, {K}) within each sentence's length, got {tags.min()}..{tags.max()}"
            )
        return tags


def _step_mask(lengths: Tensor, T: int) -> Tensor:
    """(T, B, 1): True where step t lies inside sentence b."""
    return (torch.arange(T, device=lengths.device)[:, None] < lengths[None, :]).unsqueeze(2)


def _penalty(name: str, allowed: object, shape: tuple[int, ...]) -> Tensor:
    """0 where allowed (or no constraint given), -1e4 where forbidden."""
    if allowed is None:
        return torch.zeros(shape)
    t = torch.as_tensor(allowed)
    if tuple(t.shape) != shape or t.dtype != torch.bool:
        raise ValueError(f"CRF expected {name} to be booleans of shape {shape}, got {t.dtype} {tuple(t.shape)}")
    return torch.where(t, 0.0, _FORBIDDEN)
