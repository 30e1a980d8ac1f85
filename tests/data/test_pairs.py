"""Pair files: the manythings format, aligned files, splits, length filters, and one-line errors."""

import pytest

from unrolled.data.pairs import filter_pairs, read_aligned, read_pairs_tsv, split_pairs


def test_tsv_ignores_extra_columns(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_text("Go.\tVa !\tCC-BY 2.0 (France)\nHi. \t Salut !\n", encoding="utf-8")
    assert read_pairs_tsv(p) == [("Go.", "Va !"), ("Hi.", "Salut !")]


@pytest.mark.parametrize(
    "content, message",
    [
        ("a\tb\nno tab here\n", r"p.tsv:2: one column"),
        ("a\tb\n\nc\td\n", r"p.tsv:2: empty line"),
        ("a\t\n", r"p.tsv:1: empty target"),
        ("", r"is empty"),
    ],
)
def test_tsv_errors_are_one_line(tmp_path, content, message):
    p = tmp_path / "p.tsv"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        read_pairs_tsv(p)
    assert "\n" not in str(err.value)


def test_non_utf8(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_bytes(b"caf\xe9\tcoffee\n")
    with pytest.raises(ValueError, match=r"not valid UTF-8 at byte offset 3"):
        read_pairs_tsv(p)


def test_aligned(tmp_path):
    (tmp_path / "s").write_text("a b\nc\n", encoding="utf-8")
    (tmp_path / "t").write_text("x\ny z\n", encoding="utf-8")
    assert read_aligned(tmp_path / "s", tmp_path / "t") == [("a b", "x"), ("c", "y z")]
    (tmp_path / "u").write_text("x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has 2 lines but .* has 1"):
        read_aligned(tmp_path / "s", tmp_path / "u")
    (tmp_path / "v").write_text("x\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"v:2: empty line"):
        read_aligned(tmp_path / "s", tmp_path / "v")


def test_split_and_filter():
    pairs = [(str(i), str(i)) for i in range(10)]
    train, held = split_pairs(pairs, 0.2)
    assert held == pairs[8:] and train == pairs[:8]
    assert split_pairs(pairs, 0.0) == (pairs, [])
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        split_pairs(pairs, 1.0)
    long = [("a b c", "x"), ("a", "x y"), ("a b", "x y z w")]
    assert filter_pairs(long, str.split, max_src_len=2, max_tgt_len=3) == [("a", "x y")]
