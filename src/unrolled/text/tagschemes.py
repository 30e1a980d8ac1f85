r"""Chunk tag schemes for sequence labelling: BIO (IOB2), IOB1, BIOES (IOBES) and IO.

A tag is ``"O"`` (outside any entity) or ``P-TYPE``: a one-letter prefix ``P`` and an entity type, e.g.
``B-PER``. The schemes differ in which prefixes mark the tokens of an entity (Ramshaw & Marcus 1995; Tjong Kim
Sang & Veenstra 1999; Ratinov & Roth 2009):

======  ========================================================  =====================
scheme  one entity of 1 token / of 3 tokens                        prefixes
======  ========================================================  =====================
BIO     ``B`` / ``B I I``                                          B, I, O
IOB1    ``I`` / ``I I I`` (``B`` only right after an entity of     B, I, O
        the same type: ``I-X B-X`` is two entities)
BIOES   ``S`` / ``B I E``                                          B, I, E, S, O
IO      ``I`` / ``I I I`` (adjacent entities of one type merge)    I, O
======  ========================================================  =====================

Three readings of a tag sequence:

- :func:`chunks`: the lenient conlleval reading (``conlleval.pl``, seqeval's default mode), which decodes any of
  the schemes and repairs ill-formed input (an ``I-X`` after ``O`` opens an entity; a type change closes one);
- :func:`strict_spans`: the strict reading of one scheme (seqeval's ``mode="strict"``): only entities whose tags
  follow the scheme count, ill-formed runs are dropped;
- :func:`check_tags`: well-formedness, a one-line :class:`MalformedTagsError` naming the sentence and position.

Spans are ``Span(type, start, end)`` with ``end`` exclusive. :func:`convert` re-encodes spans in another scheme
and :func:`allowed_transitions` gives the scheme's legal tag bigrams as masks for a CRF (Lample et al. 2016).

Example::

    >>> chunks(["B-PER", "I-PER", "O", "B-LOC"])
    [Span(type='PER', start=0, end=2), Span(type='LOC', start=3, end=4)]
    >>> convert(["B-PER", "I-PER", "O", "B-LOC"], "bioes")
    ['B-PER', 'E-PER', 'O', 'S-LOC']
    >>> try:
    ...     check_tags(["O", "I-PER"], "bio", sentence=3)
    ... except MalformedTagsError as e:
    ...     print(e)
    sentence 3, token 2: 'I-PER' cannot follow 'O' in BIO (expected B-PER or I-PER before it)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from unrolled.errors import UnrolledError

__all__ = [
    "SCHEMES",
    "MalformedTagsError",
    "Scheme",
    "Span",
    "allowed_transitions",
    "check_tags",
    "chunks",
    "convert",
    "detect_scheme",
    "encode",
    "get_scheme",
    "parse_tag",
    "strict_spans",
]

OUTSIDE = "O"
_ENTITY_PREFIXES = frozenset("BIES")


class MalformedTagsError(UnrolledError, ValueError):
    """A tag that is not ``O``/``P-TYPE``, or a sequence that breaks its scheme's rules (one line)."""


class Span(NamedTuple):
    """An entity: its ``type`` and the token range ``[start, end)``."""

    type: str
    start: int
    end: int


def _where(sentence: int | None, position: int | None) -> str:
    parts = []
    if sentence is not None:
        parts.append(f"sentence {sentence}")
    if position is not None:
        parts.append(f"token {position}")
    return ", ".join(parts) + ": " if parts else ""


def parse_tag(tag: str, *, sentence: int | None = None, position: int | None = None) -> tuple[str, str]:
    """``(prefix, type)`` of a tag: ``("O", "")`` for ``O``, ``("B", "PER")`` for ``B-PER``.

    Raises:
        MalformedTagsError: a tag that is neither ``O`` nor ``P-TYPE`` with ``P`` one of B, I, E, S and a
            non-empty type (``sentence``/``position`` are named in the message when given).
    """
    if tag == OUTSIDE:
        return OUTSIDE, ""
    if not isinstance(tag, str) or len(tag) < 3 or tag[1] != "-" or tag[0] not in _ENTITY_PREFIXES:
        raise MalformedTagsError(
            f"{_where(sentence, position)}expected a tag 'O' or 'P-TYPE' with P in B, I, E, S, got {tag!r}"
        )
    return tag[0], tag[2:]


class Scheme:
    """A tag scheme: its prefixes, its well-formedness rules and its strict chunk patterns.

    Subclasses define ``name``, ``prefixes``, :meth:`follows` (is ``cur`` legal right after ``prev``),
    :meth:`may_start` / :meth:`may_end` (legal first / last tag of a sentence), :meth:`encode_span` and the
    strict-reading patterns :meth:`opens`, :meth:`extends`, :meth:`closes` (seqeval's ``start/inside/end``
    patterns). Tags are passed parsed, as ``(prefix, type)``.
    """

    name = ""
    prefixes: frozenset[str] = frozenset()

    def follows(self, prev: tuple[str, str], cur: tuple[str, str]) -> bool:
        raise NotImplementedError

    def may_start(self, cur: tuple[str, str]) -> bool:
        return self.follows((OUTSIDE, ""), cur)

    def may_end(self, last: tuple[str, str]) -> bool:
        return True

    def expected_before(self, cur: tuple[str, str]) -> str:
        """Words for the message of a tag that cannot follow what precedes it."""
        raise NotImplementedError

    def encode_span(self, span: Span, adjacent_same_type: bool) -> list[str]:
        """Tags of ``span``; ``adjacent_same_type``: an entity of the same type ends right before it."""
        raise NotImplementedError

    def opens(self, prev: tuple[str, str], cur: tuple[str, str]) -> bool:
        raise NotImplementedError

    def extends(self, prev: tuple[str, str], cur: tuple[str, str]) -> bool:
        p, c = prev[0], cur[0]
        return p in "BI" and c == "I" and prev[1] == cur[1]

    def closes(self, last: tuple[str, str], nxt: tuple[str, str]) -> bool:
        return True


class BIO(Scheme):
    """IOB2: ``B-X`` opens every entity, ``I-X`` continues it (Tjong Kim Sang & Veenstra 1999)."""

    name = "bio"
    prefixes = frozenset("BIO")

    def follows(self, prev, cur):
        return cur[0] != "I" or (prev[0] in "BI" and prev[1] == cur[1])

    def expected_before(self, cur):
        return f"B-{cur[1]} or I-{cur[1]} before it"

    def encode_span(self, span, adjacent_same_type):
        return [f"B-{span.type}"] + [f"I-{span.type}"] * (span.end - span.start - 1)

    def opens(self, prev, cur):
        return cur[0] == "B"


class IOB1(Scheme):
    """IOB1 (Ramshaw & Marcus 1995): ``I-X`` everywhere, ``B-X`` only to open an entity right after another of
    type X."""

    name = "iob1"
    prefixes = frozenset("BIO")

    def follows(self, prev, cur):
        return cur[0] != "B" or (prev[0] in "BI" and prev[1] == cur[1])

    def expected_before(self, cur):
        return f"B-{cur[1]} or I-{cur[1]} before it; IOB1 opens an entity with I-"

    def encode_span(self, span, adjacent_same_type):
        first = "B" if adjacent_same_type else "I"
        return [f"{first}-{span.type}"] + [f"I-{span.type}"] * (span.end - span.start - 1)

    # seqeval's IOB1 patterns: an I- opens after O, after B- of any type or after I- of another type; a B- opens
    # only after an entity of its own type; a B- followed by a B- of another type is not a closed entity
    def opens(self, prev, cur):
        same = prev[1] == cur[1]
        if cur[0] == "I":
            return prev[0] in "OB" or (prev[0] == "I" and not same)
        return cur[0] == "B" and prev[0] in "BI" and same

    def closes(self, last, nxt):
        return not (last[0] == "B" and nxt[0] == "B" and last[1] != nxt[1])


class BIOES(Scheme):
    """BIOES / IOBES (Ratinov & Roth 2009): ``S-X`` a one-token entity, else ``B-X I-X* E-X``."""

    name = "bioes"
    prefixes = frozenset("BIOES")

    def follows(self, prev, cur):
        if prev[0] in "BI":  # inside an entity: only its continuation
            return cur[0] in "IE" and cur[1] == prev[1]
        return cur[0] in "OBS"

    def may_end(self, last):
        return last[0] in "OES"

    def expected_before(self, cur):
        if cur[0] in "IE":
            return f"B-{cur[1]} or I-{cur[1]} before it"
        return "O, E- or S- before it (the entity before is not closed)"

    def encode_span(self, span, adjacent_same_type):
        n = span.end - span.start
        if n == 1:
            return [f"S-{span.type}"]
        return [f"B-{span.type}"] + [f"I-{span.type}"] * (n - 2) + [f"E-{span.type}"]

    def opens(self, prev, cur):
        return cur[0] in "BS"

    def extends(self, prev, cur):
        return prev[0] in "BI" and cur[0] in "IE" and prev[1] == cur[1]

    def closes(self, last, nxt):
        return last[0] in "ES"


class IO(Scheme):
    """IO: ``I-X`` on every token of an entity; adjacent entities of one type cannot be told apart."""

    name = "io"
    prefixes = frozenset("IO")

    def follows(self, prev, cur):
        return True

    def expected_before(self, cur):  # pragma: no cover - every IO sequence of I/O tags is well formed
        return ""

    def encode_span(self, span, adjacent_same_type):
        return [f"I-{span.type}"] * (span.end - span.start)

    def opens(self, prev, cur):
        return cur[0] == "I" and (prev[0] == OUTSIDE or prev[1] != cur[1])


SCHEMES: dict[str, type[Scheme]] = {"bio": BIO, "iob2": BIO, "iob1": IOB1, "bioes": BIOES, "iobes": BIOES, "io": IO}


def get_scheme(scheme: str | Scheme) -> Scheme:
    """The :class:`Scheme` named ``scheme`` (``bio``/``iob2``, ``iob1``, ``bioes``/``iobes``, ``io``)."""
    if isinstance(scheme, Scheme):
        return scheme
    key = scheme.lower() if isinstance(scheme, str) else scheme
    if key not in SCHEMES:
        raise ValueError(f"expected a tag scheme in {sorted(SCHEMES)}, got {scheme!r}")
    return SCHEMES[key]()


def _parsed(tags: Sequence[str], scheme: Scheme | None, sentence: int | None) -> list[tuple[str, str]]:
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise TypeError(f"expected a list of tags, got {type(tags).__name__}")
    out = []
    for i, tag in enumerate(tags):
        p = parse_tag(tag, sentence=sentence, position=i + 1)
        if scheme is not None and p[0] not in scheme.prefixes:
            allowed = ", ".join(sorted(scheme.prefixes))
            raise MalformedTagsError(
                f"{_where(sentence, i + 1)}{tag!r} is not a {scheme.name.upper()} tag (prefixes {allowed})"
            )
        out.append(p)
    return out


def check_tags(tags: Sequence[str], scheme: str | Scheme, *, sentence: int | None = None) -> None:
    """Raise a one-line :class:`MalformedTagsError` unless ``tags`` are well formed in ``scheme``.

    ``sentence`` (e.g. 1-based, as in a file) is named in the message with the 1-based token position.
    """
    s = get_scheme(scheme)
    parsed = _parsed(tags, s, sentence)
    prev, prev_tag = (OUTSIDE, ""), OUTSIDE
    for i, cur in enumerate(parsed):
        if not s.follows(prev, cur):
            what = f"cannot start a sentence in {s.name.upper()}" if i == 0 else f"cannot follow {prev_tag!r} in"
            name = "" if i == 0 else f" {s.name.upper()}"
            raise MalformedTagsError(
                f"{_where(sentence, i + 1)}{tags[i]!r} {what}{name} (expected {s.expected_before(cur)})"
            )
        prev, prev_tag = cur, tags[i]
    if parsed and not s.may_end(prev):
        raise MalformedTagsError(
            f"{_where(sentence, len(parsed))}{prev_tag!r} cannot end a sentence in {s.name.upper()} "
            f"(expected E-{prev[1]} to close the entity)"
        )


def chunks(tags: Sequence[str], *, sentence: int | None = None) -> list[Span]:
    """Entities in the lenient conlleval reading (as ``conlleval.pl`` and seqeval's default mode).

    A chunk ends before ``O``, before ``B-``/``S-``, after ``E-``/``S-`` and at a change of type; it begins at
    ``B-``/``S-``, at an ``I-``/``E-`` that does not continue a chunk, and at a change of type. This decodes BIO,
    IOB1, BIOES and IO alike.
    """
    parsed = _parsed(tags, None, sentence)
    out: list[Span] = []
    prev = (OUTSIDE, "")
    start = 0
    for i, cur in enumerate([*parsed, (OUTSIDE, "")]):
        (pp, pt), (cp, ct) = prev, cur
        changed = pt != ct
        ends = pp in "ES" or (pp in "BI" and cp in "BSO") or (pp != OUTSIDE and changed)
        begins = cp in "BS" or (cp in "IE" and pp in "ESO") or (cp != OUTSIDE and changed)
        if ends:
            out.append(Span(pt, start, i))
        if begins:
            start = i
        prev = cur
    return out


def strict_spans(tags: Sequence[str], scheme: str | Scheme, *, sentence: int | None = None) -> list[Span]:
    """Entities in the strict reading of ``scheme`` (seqeval's ``mode="strict"``): a run that opens, extends and
    closes by the scheme's patterns is an entity; tags outside such runs count for nothing.

    Raises:
        MalformedTagsError: a tag whose prefix the scheme does not use (e.g. ``S-X`` in BIO).
    """
    s = get_scheme(scheme)
    seq = [*_parsed(tags, s, sentence), (OUTSIDE, "")]
    out: list[Span] = []
    i = 0
    while i < len(seq):
        prev = seq[i - 1] if i else (OUTSIDE, "")
        if not s.opens(prev, seq[i]):
            i += 1
            continue
        end = i + 1
        while s.extends(seq[end - 1], seq[end]):
            end += 1
        if s.closes(seq[end - 1], seq[end]):
            out.append(Span(seq[i][1], i, end))
        i = end
    return out


def encode(spans: Sequence[Span], length: int, scheme: str | Scheme) -> list[str]:
    """Tags of ``length`` tokens holding the non-overlapping ``spans``, in ``scheme``."""
    s = get_scheme(scheme)
    tags = [OUTSIDE] * length
    last_end, last_type = -1, None
    for span in sorted(spans, key=lambda x: x.start):
        if not (0 <= span.start < span.end <= length) or span.start < last_end:
            raise ValueError(f"expected non-overlapping spans within [0, {length}), got {tuple(span)}")
        tags[span.start : span.end] = s.encode_span(span, span.start == last_end and span.type == last_type)
        last_end, last_type = span.end, span.type
    return tags


def convert(
    tags: Sequence[str], target: str | Scheme, source: str | Scheme | None = None, *, sentence: int | None = None
) -> list[str]:
    """Re-encode ``tags`` in scheme ``target`` (via the conlleval reading of :func:`chunks`).

    If ``source`` is given, ``tags`` are first checked to be well formed in it. Converting to IO merges adjacent
    entities of one type (IO cannot separate them).
    """
    if source is not None:
        check_tags(tags, source, sentence=sentence)
    return encode(chunks(tags, sentence=sentence), len(tags), target)


def detect_scheme(sentences: Sequence[Sequence[str]]) -> str:
    """Guess the scheme of tagged sentences: ``bioes`` if ``E-``/``S-`` occur, else ``bio`` if they are well
    formed BIO, else ``iob1`` if well formed IOB1, else ``io`` if only ``I-`` occurs.

    Raises:
        MalformedTagsError: tags that are well formed in none of these (the BIO error is reported).
    """
    prefixes = {
        parse_tag(t, sentence=k + 1, position=i + 1)[0] for k, s in enumerate(sentences) for i, t in enumerate(s)
    }
    if prefixes & {"E", "S"}:
        candidates = ["bioes"]
    elif "B" not in prefixes:
        return "io"
    else:
        candidates = ["bio", "iob1"]
    first_error: MalformedTagsError | None = None
    for name in candidates:
        try:
            for k, sent in enumerate(sentences):
                check_tags(sent, name, sentence=k + 1)
            return name
        except MalformedTagsError as e:
            first_error = first_error or e
    assert first_error is not None
    raise first_error


def allowed_transitions(labels: Sequence[str], scheme: str | Scheme) -> tuple[list[list[bool]], list[bool], list[bool]]:
    """The scheme's legal tag bigrams over ``labels`` (e.g. for CRF constraints, Lample et al. 2016).

    Returns:
        ``(transitions, start, end)``: ``transitions[i][j]`` whether ``labels[j]`` may follow ``labels[i]``;
        ``start[j]`` / ``end[j]`` whether ``labels[j]`` may open / close a sentence.

    Example::

        >>> trans, start, end = allowed_transitions(["O", "B-PER", "I-PER"], "bio")
        >>> trans[0], start
        ([True, True, False], [True, True, False])
    """
    s = get_scheme(scheme)
    parsed = _parsed(list(labels), s, None)
    trans = [[s.follows(p, c) for c in parsed] for p in parsed]
    return trans, [s.may_start(c) for c in parsed], [s.may_end(c) for c in parsed]
