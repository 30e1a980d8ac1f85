"""Bracketed tree reader: structure, round trip, and one-line errors naming the line."""

import pytest

from unrolled.data.trees import Tree, TreeFormatError, parse_tree, parse_trees, read_trees, to_bracketed, write_trees

SST = "(3 (2 It) (4 (2 's) (3 (2 very) (4 good))))"


def test_structure_labels_and_leaves():
    t = parse_tree(SST)
    assert t.label == "3" and len(t.children) == 2
    assert t.children[0] == Tree("2", word="It")
    assert t.leaves() == ["It", "'s", "very", "good"]
    assert t.labels() == ["2", "2", "2", "4", "3", "4", "3"]  # post-order, root last


def test_round_trip_file(tmp_path):
    text = SST + "\n(1 (0 not) (2 -LRB-bad-RRB-))\n(NP (DT the) (NN cat) (NN food))\n"
    p = tmp_path / "t.txt"
    p.write_text(text, encoding="utf-8")
    trees = read_trees(p)
    assert [to_bracketed(t) for t in trees] == text.strip().split("\n")
    q = tmp_path / "u.txt"
    write_trees(q, trees)
    assert q.read_text(encoding="utf-8") == text
    assert read_trees(q) == trees


def test_whitespace_is_normalised():
    assert to_bracketed(parse_tree("( 3  (2 a)\t(4   b) )")) == "(3 (2 a) (4 b))"


@pytest.mark.parametrize(
    "line, msg",
    [
        ("(3 (2 a) (4 b)", r"x\.txt line 2: unbalanced brackets: 1 '\(' not closed"),
        ("(3 (2 a)) (4 b))", r"x\.txt line 2: text after the tree closed at column 11"),
        ("(3 (2 a) (4 b)))", r"x\.txt line 2: text after the tree closed at column 16"),
        ("((2 a) (4 b))", r"x\.txt line 2: missing label before '\(' at column 2"),
        ("(3 (2 a) ())", r"x\.txt line 2: missing label in '\(\)'"),
        ("(3 (2 a) (4))", r"x\.txt line 2: node \(4\) at column 12 has neither a word nor subtrees"),
        ("(3 (2 a b))", r"x\.txt line 2: node \(2 a b\) has 2 words"),
        ("(3 a (2 b))", r"x\.txt line 2: subtree after a word"),
        ("(3 (2 b) a)", r"x\.txt line 2: word 'a' after a subtree"),
        ("word (3 (2 a))", r"x\.txt line 2: 'word' at column 1 is outside brackets"),
        (")", r"x\.txt line 2: unbalanced brackets: '\)' at column 1 closes nothing"),
    ],
)
def test_malformed_trees_are_one_line_errors_naming_the_line(line, msg):
    with pytest.raises(TreeFormatError, match=msg) as err:
        parse_trees("(2 ok)\n" + line + "\n", "x.txt")
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)


def test_empty_and_non_utf8_files(tmp_path):
    e = tmp_path / "e.txt"
    e.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(TreeFormatError, match=r"e\.txt is empty; expected bracketed trees"):
        read_trees(e)
    b = tmp_path / "b.txt"
    b.write_bytes(b"(2 ok)\n(2 caf\xe9)\n")
    with pytest.raises(TreeFormatError, match=r"b\.txt line 2: not valid UTF-8"):
        read_trees(b)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_trees(tmp_path / "missing.txt")
