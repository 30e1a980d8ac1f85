"""Tag schemes: conversion round trips, well-formedness errors, strict vs lenient spans, transition masks."""

from __future__ import annotations

import itertools
import random

import pytest

from unrolled.text.tagschemes import (
    MalformedTagsError,
    Span,
    allowed_transitions,
    check_tags,
    chunks,
    convert,
    detect_scheme,
    encode,
    get_scheme,
    parse_tag,
    strict_spans,
)

# the same entities in every scheme: PER(0-2) PER(2-3) O LOC(4-5) ORG(5-8)
SPANS = [Span("PER", 0, 2), Span("PER", 2, 3), Span("LOC", 4, 5), Span("ORG", 5, 8)]
TAGS = {
    "bio": ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "I-ORG"],
    "iob1": ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "I-ORG"],
    "bioes": ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "I-ORG", "E-ORG"],
    "io": ["I-PER", "I-PER", "I-PER", "O", "I-LOC", "I-ORG", "I-ORG", "I-ORG"],
}


@pytest.mark.parametrize("scheme", ["bio", "iob1", "bioes"])
def test_encode_and_read_back(scheme: str) -> None:
    assert encode(SPANS, 8, scheme) == TAGS[scheme]
    assert chunks(TAGS[scheme]) == SPANS
    assert strict_spans(TAGS[scheme], scheme) == SPANS
    check_tags(TAGS[scheme], scheme)


def test_io_merges_adjacent_same_type() -> None:
    assert encode(SPANS, 8, "io") == TAGS["io"]
    assert chunks(TAGS["io"]) == [Span("PER", 0, 3), Span("LOC", 4, 5), Span("ORG", 5, 8)]


@pytest.mark.parametrize(("source", "target"), list(itertools.permutations(["bio", "iob1", "bioes"], 2)))
def test_convert_between_schemes(source: str, target: str) -> None:
    assert convert(TAGS[source], target, source) == TAGS[target]
    assert convert(convert(TAGS[source], target), source) == TAGS[source]
    assert convert(TAGS[source], "io") == TAGS["io"]


def _all_sequences(scheme: str, n: int) -> list[list[str]]:
    prefixes = sorted(get_scheme(scheme).prefixes - {"O"})
    labels = ["O"] + [f"{p}-{t}" for p in prefixes for t in ("A", "B")]
    return [list(s) for s in itertools.product(labels, repeat=n)]


@pytest.mark.parametrize("scheme", ["bio", "iob1", "bioes", "io"])
def test_well_formed_means_allowed_bigrams_and_strict_equals_lenient(scheme: str) -> None:
    seqs = _all_sequences(scheme, 3)
    labels = sorted({t for s in seqs for t in s})
    index = {t: i for i, t in enumerate(labels)}
    trans, start, end = allowed_transitions(labels, scheme)
    n_ok = 0
    for s in seqs:
        ids = [index[t] for t in s]
        by_mask = start[ids[0]] and end[ids[-1]] and all(trans[a][b] for a, b in itertools.pairwise(ids))
        try:
            check_tags(s, scheme)
            ok = True
        except MalformedTagsError:
            ok = False
        assert ok == by_mask, s
        if ok:
            n_ok += 1
            # a well-formed sequence reads the same strictly and leniently, and survives re-encoding
            assert strict_spans(s, scheme) == chunks(s), s
            if scheme != "io":
                assert encode(chunks(s), len(s), scheme) == s, s
    assert 0 < n_ok < len(seqs) or scheme == "io"


def test_allowed_transitions_bio_by_hand() -> None:
    trans, start, end = allowed_transitions(["O", "B-PER", "I-PER", "I-LOC"], "bio")
    assert trans == [
        [True, True, False, False],
        [True, True, True, False],
        [True, True, True, False],
        [True, True, False, True],
    ]
    assert start == [True, True, False, False] and end == [True, True, True, True]
    _, start, end = allowed_transitions(["O", "B-X", "I-X", "E-X", "S-X"], "bioes")
    assert start == [True, True, False, False, True] and end == [True, False, False, True, True]


@pytest.mark.parametrize(
    ("tags", "scheme", "match"),
    [
        (["O", "I-PER"], "bio", "sentence 7, token 2: 'I-PER' cannot follow 'O' in BIO"),
        (["I-PER"], "bio", "sentence 7, token 1: 'I-PER' cannot start a sentence in BIO"),
        (["B-PER", "I-LOC"], "bio", "token 2: 'I-LOC' cannot follow 'B-PER'"),
        (["O", "B-PER"], "iob1", "token 2: 'B-PER' cannot follow 'O' in IOB1"),
        (["B-PER", "O"], "bioes", "token 2: 'O' cannot follow 'B-PER' in BIOES"),
        (["S-PER", "E-PER"], "bioes", "token 2: 'E-PER' cannot follow 'S-PER'"),
        (["O", "B-PER"], "bioes", "token 2: 'B-PER' cannot end a sentence in BIOES"),
        (["O", "E-PER"], "bio", "token 2: 'E-PER' is not a BIO tag"),
        (["B-PER"], "io", "token 1: 'B-PER' is not a IO tag"),
        (["O", "per"], "bio", "token 2: expected a tag 'O' or 'P-TYPE'"),
        (["O", "B-"], "bio", "got 'B-'"),
    ],
)
def test_check_errors(tags: list[str], scheme: str, match: str) -> None:
    with pytest.raises(MalformedTagsError, match=match) as info:
        check_tags(tags, scheme, sentence=7)
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)


def test_detect_scheme() -> None:
    assert detect_scheme([TAGS["bio"], ["O"]]) == "bio"
    assert detect_scheme([TAGS["iob1"]]) == "iob1"
    assert detect_scheme([TAGS["bioes"]]) == "bioes"
    assert detect_scheme([TAGS["io"]]) == "io"
    with pytest.raises(MalformedTagsError, match="sentence 2, token 1: 'B-PER' cannot end a sentence in BIOES"):
        detect_scheme([["S-PER"], ["B-PER"]])


def test_random_lenient_chunks_cover_every_entity_token() -> None:
    rng = random.Random(0)
    labels = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B"]
    for _ in range(200):
        s = [rng.choice(labels) for _ in range(rng.randint(1, 8))]
        covered = sorted(i for sp in chunks(s) for i in range(sp.start, sp.end))
        assert covered == [i for i, t in enumerate(s) if t != "O"]


def test_other_errors() -> None:
    assert parse_tag("B-PER-X") == ("B", "PER-X")
    with pytest.raises(ValueError, match="expected a tag scheme in"):
        get_scheme("bilou")
    with pytest.raises(ValueError, match="non-overlapping spans"):
        encode([Span("A", 0, 2), Span("A", 1, 3)], 3, "bio")
    with pytest.raises(ValueError, match="non-overlapping spans"):
        encode([Span("A", 0, 4)], 3, "bio")
    with pytest.raises(TypeError, match="list of tags"):
        chunks("B-PER")
    with pytest.raises(MalformedTagsError, match="cannot follow"):
        convert(["O", "I-A"], "bioes", "bio")
