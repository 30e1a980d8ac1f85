"""CoNLL / CoNLL-U readers and the writer: columns, -DOCSTART-, comments, skipped CoNLL-U lines, round trip,
every error path."""

from __future__ import annotations

from pathlib import Path

import pytest

from unrolled.data.conll import (
    ConllFormatError,
    format_conll,
    parse_conll,
    parse_conllu,
    read_conll,
    read_conllu,
    read_tagged,
    write_conll,
)

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC


Peter NNP B-NP B-PER

-DOCSTART- -X- -X- O

Blackburn NNP B-NP B-PER
"""

CONLLU = (
    "# sent_id = 1\n"
    "# text = Don't go.\n"
    "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n"
    "2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n"
    "3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n"
    "3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t3:conj\t_\n"
    "4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n"
    "\n"
    "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n"
)


def test_conll_columns_docstart_blank_lines() -> None:
    sents = parse_conll(CONLL, columns=(0, 3))
    assert [s.tokens for s in sents] == [("EU", "rejects", "German"), ("Peter",), ("Blackburn",)]
    assert [s.tags for s in sents] == [("B-ORG", "O", "B-MISC"), ("B-PER",), ("B-PER",)]
    assert [s.line for s in sents] == [3, 8, 12]
    assert [s.tags for s in parse_conll(CONLL, columns=(0, 2))][0] == ("B-NP", "B-VP", "B-NP")
    assert parse_conll(CONLL)[0].tags == ("B-ORG", "O", "B-MISC")  # default: last column
    assert parse_conll(CONLL, columns=(1, None))[0].tokens == ("NNP", "VBZ", "JJ")
    assert parse_conll(CONLL, columns=(1, None))[0].tags is None
    # tabs, CRLF-free text, trailing spaces
    assert parse_conll("a\tX\t O  \nb\tY\tB-A\n")[0].tags == ("O", "B-A")


def test_conll_comments_opt_in() -> None:
    text = "# doc 1\nEU B-ORG\n# note\nrejects O\n"
    sents = parse_conll(text, comment="#")
    assert sents[0].tokens == ("EU", "rejects") and sents[0].line == 2
    # without a comment prefix, '#' is a token
    assert parse_conll("# O\nx O\n")[0].tokens == ("#", "x")


def test_write_back_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "in.conll"
    path.write_text(CONLL, encoding="utf-8")
    sents = read_conll(path, (0, 3))
    out = tmp_path / "out.conll"
    write_conll(out, sents, [s.tags for s in sents])
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[2] == "EU NNP B-NP B-ORG B-ORG"
    again = read_conll(out, (0, 4))
    assert [s.tags for s in again] == [s.tags for s in sents]
    assert [s.tokens for s in again] == [s.tokens for s in sents]
    # dropping the appended column gives the input back (up to blank-line runs)
    stripped = [
        " ".join(line.split()[:-1]) if line and not line.startswith("-DOC") else line for line in text.splitlines()
    ]
    assert [x for x in stripped if x] == [x for x in CONLL.splitlines() if x]
    assert read_conll(out, (0, 3))[0].tags == ("B-ORG", "O", "B-MISC")


def test_conllu_upos_xpos_skips_ranges_and_empty_nodes(tmp_path: Path) -> None:
    sents = parse_conllu(CONLLU)
    assert sents[0].tokens == ("Do", "n't", "go", ".")
    assert sents[0].tags == ("AUX", "PART", "VERB", "PUNCT")
    assert parse_conllu(CONLLU, "xpos")[0].tags == ("VBP", "RB", "VB", ".")
    assert sents[0].line == 4 and sents[1].tokens == ("Hi",)
    text = format_conll(sents, [["a", "b", "c", "d"], ["e"]])
    lines = text.splitlines()
    assert lines[2] == "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_"  # kept as is
    assert lines[3].endswith("\t_\ta") and lines[6].startswith("3.1") and lines[7].endswith("\td")
    path = tmp_path / "x.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    assert read_conllu(path, "xpos")[1].tags == ("UH",)
    assert read_tagged(path, "conllu", tags=False)[0].tags is None
    assert read_tagged(path, "conllu")[0].tags == sents[0].tags


def _write(tmp_path: Path, data: bytes | str) -> Path:
    p = tmp_path / "f.txt"
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        ("", {}, "no sentences; expected CoNLL columns"),
        ("\n\n-DOCSTART- O\n\n", {}, "no sentences"),
        ("EU B-ORG\nrejects\n", {"columns": (0, 1)}, ":2: expected a tag column 1, got 1 column"),
        ("EU B-ORG\n", {"columns": (3, 1)}, ":1: expected a token column 3"),
        ("# only a comment\n\nx O\n", {"comment": "#"}, ":1: empty sentence"),
        (b"caf\xe9 O\n", {}, "not valid UTF-8 at byte offset 3"),
        ("a O\n-DOCSTART- O\n", {}, ":2: expected -DOCSTART- on a line of its own"),
    ],
)
def test_conll_errors(tmp_path: Path, data, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        read_conll(_write(tmp_path, data), **kwargs)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        ("", {}, "no sentences; expected CoNLL-U"),
        ("1\tDo\tdo\n", {}, ":1: expected 10 tab-separated CoNLL-U columns, got 3"),
        ("x\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n", {}, "expected a word ID"),
        ("# text = nothing\n\n", {}, ":1: empty sentence"),
        ("1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n", {"tagset": "deprel"}, "tagset in"),
    ],
)
def test_conllu_errors(tmp_path: Path, data: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        read_conllu(_write(tmp_path, data), **kwargs)


def test_other_errors(tmp_path: Path) -> None:
    sents = parse_conll("a O\n")
    with pytest.raises(ValueError, match="one prediction list per sentence"):
        format_conll(sents, [])
    with pytest.raises(ValueError, match="sentence 1: expected 1 predicted tags, got 2"):
        format_conll(sents, [["O", "O"]])
    with pytest.raises(ValueError, match="columns as \\(token column, tag column\\)"):
        parse_conll("a O\n", columns=(0,))
    with pytest.raises(ValueError, match="format in"):
        read_tagged(tmp_path, "json")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_conll(tmp_path / "missing.conll")
    assert isinstance(ConllFormatError("x"), ValueError)
