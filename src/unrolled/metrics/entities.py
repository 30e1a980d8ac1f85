r"""Token accuracy and entity-level precision, recall and F1 for sequence labelling (CoNLL-2000/2003 style).

An entity is a typed token span; a predicted entity is correct only if its type, start and end all match a gold
entity (Tjong Kim Sang & De Meulder 2003). Per type :math:`c`, with :math:`G_c` the gold and :math:`P_c` the
predicted entities of that type:

.. math::
    p_c = \frac{|G_c \cap P_c|}{|P_c|}, \qquad r_c = \frac{|G_c \cap P_c|}{|G_c|}, \qquad
    F_{1,c} = \frac{2 p_c r_c}{p_c + r_c}

(0 where a denominator is 0). Micro averages pool the counts over types; macro averages are the plain means of
:math:`p_c, r_c, F_{1,c}` over every type seen in gold or predictions; weighted averages weight them by
:math:`|G_c|`. These are the figures of seqeval's ``classification_report`` with ``zero_division=0``.

Entities are read from the tags either leniently, as ``conlleval.pl`` and seqeval's default mode do (``mode=
"conlleval"``: :func:`unrolled.text.tagschemes.chunks`), or strictly in one scheme (``mode="strict"``, seqeval's
``mode="strict"``: :func:`unrolled.text.tagschemes.strict_spans`, where ill-formed runs are no entities).

Example::

    >>> gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    >>> pred = [["B-PER", "I-PER", "O", "B-ORG"]]
    >>> s = entity_scores(gold, pred)
    >>> s.micro.precision, s.micro.recall, s.per_type["PER"].f1, s.accuracy
    (0.5, 0.5, 1.0, 0.75)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from unrolled.text.tagschemes import chunks, strict_spans

__all__ = ["MODES", "EntityScores", "Score", "entity_scores", "entity_set", "token_accuracy"]

MODES = ("conlleval", "strict")


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 with the counts they come from (``support``: gold entities)."""

    precision: float
    recall: float
    f1: float
    support: int
    predicted: int = 0
    correct: int = 0


@dataclass(frozen=True)
class EntityScores:
    """Scores per entity type (sorted by type), their micro, macro and weighted averages, and token accuracy."""

    per_type: dict[str, Score]
    micro: Score
    macro: Score
    weighted: Score
    accuracy: float

    def to_dict(self) -> dict:
        """Plain nested dicts (e.g. for ``--json``)."""
        return {
            "accuracy": self.accuracy,
            "micro": asdict(self.micro),
            "macro": asdict(self.macro),
            "weighted": asdict(self.weighted),
            "per_type": {k: asdict(v) for k, v in self.per_type.items()},
        }


def _check_pair(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    for name, x in (("gold", gold), ("pred", pred)):
        if isinstance(x, str) or not isinstance(x, Sequence) or any(isinstance(s, str) for s in x):
            raise TypeError(f"expected {name} to be a list of sentences (lists of tags)")
    if len(gold) != len(pred):
        raise ValueError(f"expected as many predicted sentences as gold ones ({len(gold)}), got {len(pred)}")
    for k, (g, p) in enumerate(zip(gold, pred, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sentence {k + 1}: expected {len(g)} predicted tags (as gold), got {len(p)}")


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag (0 for no tokens)."""
    _check_pair(gold, pred)
    total = sum(len(g) for g in gold)
    right = sum(a == b for g, p in zip(gold, pred, strict=True) for a, b in zip(g, p, strict=True))
    return right / total if total else 0.0


def entity_set(
    sentences: Sequence[Sequence[str]], mode: str = "conlleval", scheme: str | None = None
) -> set[tuple[int, str, int, int]]:
    """The entities of tagged sentences as ``(sentence, type, start, end)`` (``end`` exclusive)."""
    if mode not in MODES:
        raise ValueError(f"expected mode in {MODES}, got {mode!r}")
    if mode == "strict" and scheme is None:
        raise ValueError("expected a scheme (bio, iob1, bioes, io) for mode='strict', got None")
    out = set()
    for k, tags in enumerate(sentences):
        spans = chunks(tags, sentence=k + 1) if mode == "conlleval" else strict_spans(tags, scheme, sentence=k + 1)
        out.update((k, s.type, s.start, s.end) for s in spans)
    return out


def _score(correct: int, predicted: int, support: int) -> Score:
    p = correct / predicted if predicted else 0.0
    r = correct / support if support else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return Score(p, r, f, support, predicted, correct)


def _mean(scores: list[Score], weights: list[int]) -> Score:
    total = sum(weights)
    if not scores or total == 0:
        return Score(0.0, 0.0, 0.0, total)

    def avg(name: str) -> float:
        return sum(getattr(s, name) * w for s, w in zip(scores, weights, strict=True)) / total

    return Score(avg("precision"), avg("recall"), avg("f1"), sum(s.support for s in scores))


def entity_scores(
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    *,
    mode: str = "conlleval",
    scheme: str | None = None,
) -> EntityScores:
    """Entity precision/recall/F1 per type and averaged, and token accuracy (see the module docstring).

    Args:
        gold: the gold tags, one list per sentence.
        pred: the predicted tags, same lengths.
        mode: ``"conlleval"`` (lenient, seqeval's default) or ``"strict"`` (seqeval's strict mode).
        scheme: ``bio``/``iob2``, ``iob1``, ``bioes``/``iobes`` or ``io``; required for ``mode="strict"``.

    Raises:
        ValueError: sentences of different lengths, a malformed tag (one line naming sentence and token), a
            prefix the scheme does not use in strict mode.
    """
    _check_pair(gold, pred)
    g, p = entity_set(gold, mode, scheme), entity_set(pred, mode, scheme)
    types = sorted({e[1] for e in g} | {e[1] for e in p})
    per_type = {}
    for t in types:
        gt, pt = {e for e in g if e[1] == t}, {e for e in p if e[1] == t}
        per_type[t] = _score(len(gt & pt), len(pt), len(gt))
    scores = list(per_type.values())
    return EntityScores(
        per_type=per_type,
        micro=_score(len(g & p), len(p), len(g)),
        macro=_mean(scores, [1] * len(scores)),
        weighted=_mean(scores, [s.support for s in scores]),
        accuracy=token_accuracy(gold, pred),
    )
