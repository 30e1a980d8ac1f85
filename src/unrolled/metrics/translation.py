"""Translation metrics: corpus BLEU and chrF through sacrebleu (not re-implemented), and exact match.

BLEU (Papineni et al. 2002) and chrF (Popović 2015) are computed by sacrebleu (Post 2018, "A Call for Clarity in
Reporting BLEU Scores") with its default settings (BLEU: 13a tokenisation, 4-grams, exponential smoothing; chrF:
character 6-grams, beta 2), on detokenised strings, one reference per hypothesis. Scores are on sacrebleu's 0-100
scale.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["corpus_bleu", "corpus_chrf", "exact_match", "translation_scores"]


def _sacrebleu():
    try:
        import sacrebleu
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportError("BLEU and chrF need sacrebleu: pip install sacrebleu") from None
    return sacrebleu


def _check(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    for name, v in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(v, str) or not all(isinstance(s, str) for s in v):
            raise ValueError(f"{name} must be a list of strings, got {type(v).__name__}")
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} references; expected one each")
    if not hypotheses:
        raise ValueError("no hypotheses to score; expected at least one")


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) of ``hypotheses`` against one reference each, by sacrebleu.

    Example::

        >>> corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
        100.00000000000004
    """
    _check(hypotheses, references)
    return float(_sacrebleu().corpus_bleu(list(hypotheses), [list(references)]).score)


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (0-100) by sacrebleu."""
    _check(hypotheses, references)
    return float(_sacrebleu().corpus_chrf(list(hypotheses), [list(references)]).score)


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """The fraction (0-1) of hypotheses equal to their reference, after stripping outer whitespace."""
    _check(hypotheses, references)
    return sum(h.strip() == r.strip() for h, r in zip(hypotheses, references)) / len(references)


def translation_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """``{"bleu", "chrf", "exact_match"}`` of a corpus."""
    return {
        "bleu": corpus_bleu(hypotheses, references),
        "chrf": corpus_chrf(hypotheses, references),
        "exact_match": exact_match(hypotheses, references),
    }
