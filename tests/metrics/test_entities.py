"""Entity P/R/F1 and token accuracy equal seqeval (default conlleval mode and strict mode per scheme)."""

from __future__ import annotations

import random
import warnings

import pytest

from unrolled.metrics.entities import entity_scores, entity_set, token_accuracy

seqeval_metrics = pytest.importorskip("seqeval.metrics")
seqeval_scheme = pytest.importorskip("seqeval.scheme")

PEER_SCHEMES = {"bio": "IOB2", "iob1": "IOB1", "bioes": "IOBES"}

# boundary cases of every scheme: I- after O, type changes, B- after B-, E-/S- handling, entity at the end
CRAFTED = [
    ["O", "I-PER", "I-PER", "O"],
    ["B-PER", "I-LOC", "O"],
    ["B-PER", "B-PER", "I-PER"],
    ["I-PER", "B-PER", "I-PER", "I-LOC"],
    ["B-PER", "B-LOC", "I-LOC"],
    ["S-PER", "S-PER", "B-LOC", "E-LOC"],
    ["B-PER", "I-PER", "O", "E-PER", "S-LOC"],
    ["B-PER", "E-PER", "I-PER", "E-PER"],
    ["B-PER", "I-PER"],
    ["E-LOC", "O", "S-ORG", "I-ORG", "E-ORG"],
    ["B-MISC", "I-MISC", "E-MISC", "S-MISC", "B-MISC"],
    ["O", "O", "O"],
    ["I-ORG"],
    ["B-ORG", "I-PER", "I-PER", "E-PER", "B-PER", "S-LOC"],
]


def _random_sentences(prefixes: str, n: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    tags = ["O"] + [f"{p}-{t}" for p in prefixes if p != "O" for t in ("PER", "LOC", "ORG")]
    return [[rng.choice(tags) for _ in range(rng.randint(1, 9))] for _ in range(n)]


def _peer(gold, pred, mode: str | None = None, scheme: str | None = None) -> dict:
    kwargs = {"output_dict": True, "zero_division": 0}
    if mode == "strict":
        kwargs.update(mode="strict", scheme=getattr(seqeval_scheme, PEER_SCHEMES[scheme]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return seqeval_metrics.classification_report(gold, pred, **kwargs)


def _assert_same(ours, peer: dict) -> None:
    rows = {**{k: v for k, v in ours.per_type.items()}, "micro avg": ours.micro, "macro avg": ours.macro}
    rows["weighted avg"] = ours.weighted
    assert set(rows) == set(peer)
    for name, row in rows.items():
        want = peer[name]
        got = (row.precision, row.recall, row.f1, row.support)
        assert got == pytest.approx((want["precision"], want["recall"], want["f1-score"], want["support"])), name


def test_hand_example() -> None:
    s = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]])
    assert (s.micro.precision, s.micro.recall, s.micro.f1) == (0.5, 0.5, 0.5)
    assert s.per_type["PER"].f1 == 1.0 and s.per_type["ORG"].support == 0
    assert s.macro.f1 == pytest.approx(1 / 3) and s.accuracy == 0.75


@pytest.mark.parametrize("prefixes", ["BIO", "IO", "BIOES"])
def test_conlleval_mode_equals_seqeval_random(prefixes: str) -> None:
    gold = _random_sentences(prefixes, 150, seed=1) + CRAFTED
    pred = _random_sentences(prefixes, 150, seed=2) + [list(reversed(s)) for s in CRAFTED]
    pred = [p[: len(g)] + ["O"] * (len(g) - len(p)) for g, p in zip(gold, pred, strict=True)]
    _assert_same(entity_scores(gold, pred), _peer(gold, pred))
    assert token_accuracy(gold, pred) == pytest.approx(seqeval_metrics.accuracy_score(gold, pred))


def test_conlleval_entities_of_crafted_cases_equal_seqeval() -> None:
    for sent in CRAFTED:
        want = {(0, t, s, e + 1) for t, s, e in seqeval_metrics.sequence_labeling.get_entities(sent)}
        assert entity_set([sent]) == want, sent


@pytest.mark.parametrize("scheme", ["bio", "iob1", "bioes"])
def test_strict_mode_equals_seqeval(scheme: str) -> None:
    prefixes = {"bio": "BI", "iob1": "BI", "bioes": "BIES"}[scheme]
    crafted = [s for s in CRAFTED if all(t == "O" or t[0] in prefixes for t in s)]
    gold = _random_sentences(prefixes, 200, seed=3) + crafted
    pred = _random_sentences(prefixes, 200, seed=4) + crafted[::-1]
    pred = [p[: len(g)] + ["O"] * (len(g) - len(p)) for g, p in zip(gold, pred, strict=True)]
    _assert_same(entity_scores(gold, pred, mode="strict", scheme=scheme), _peer(gold, pred, "strict", scheme))
    # the entity sets themselves, sentence by sentence
    peer = seqeval_scheme.Entities(gold, getattr(seqeval_scheme, PEER_SCHEMES[scheme]))
    want = {(e.sent_id, e.tag, e.start, e.end) for sent in peer.entities for e in sent}
    assert entity_set(gold, "strict", scheme) == want


def test_strict_differs_from_conlleval_on_ill_formed() -> None:
    sent = [["O", "I-PER", "I-PER"]]
    assert entity_set(sent) == {(0, "PER", 1, 3)}
    assert entity_set(sent, "strict", "bio") == set()
    assert entity_set([["B-PER", "I-PER"]], "strict", "bioes") == set()


def test_io_strict_equals_conlleval() -> None:
    sents = _random_sentences("I", 50, seed=5)
    assert entity_set(sents, "strict", "io") == entity_set(sents)


def test_to_dict_and_empty() -> None:
    s = entity_scores([["O"]], [["O"]])
    assert s.micro.f1 == 0.0 and s.per_type == {} and s.accuracy == 1.0
    assert s.to_dict()["micro"]["support"] == 0
    assert token_accuracy([], []) == 0.0


@pytest.mark.parametrize(
    ("gold", "pred", "kwargs", "error", "match"),
    [
        ([["O"]], [["O"], ["O"]], {}, ValueError, "as many predicted sentences as gold ones \\(1\\), got 2"),
        ([["O", "O"]], [["O"]], {}, ValueError, "sentence 1: expected 2 predicted tags"),
        ([["O", "PER"]], [["O", "O"]], {}, ValueError, "sentence 1, token 2: expected a tag 'O' or 'P-TYPE'"),
        ([["O"]], [["O"]], {"mode": "lenient"}, ValueError, "expected mode in"),
        ([["O"]], [["O"]], {"mode": "strict"}, ValueError, "expected a scheme"),
        ([["S-PER"]], [["O"]], {"mode": "strict", "scheme": "bio"}, ValueError, "'S-PER' is not a BIO tag"),
        ("O O", [["O"]], {}, TypeError, "list of sentences"),
    ],
)
def test_errors(gold, pred, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        entity_scores(gold, pred, **kwargs)
