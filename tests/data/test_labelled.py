"""Labelled text readers: CSV/TSV columns, class folders, the stratified split, every error path."""

from __future__ import annotations

import pytest

from unrolled.data.labelled import (
    LabelledData,
    LabelledDataError,
    read_class_folder,
    read_labelled,
    read_labelled_table,
    stratified_split,
)


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_csv_by_name_with_quotes(tmp_path):
    f = write(tmp_path / "r.csv", 'id,review,sentiment\n1,"good, really",pos\n2,bad,neg\n\n3, meh ,neg\n')
    d = read_labelled_table(f, text_column="review", label_column="sentiment")
    assert d.texts == ["good, really", "bad", "meh"] and d.labels == [("pos",), ("neg",), ("neg",)]
    assert d.classes == ["neg", "pos"] and not d.multi_label
    assert d.sources[2] == f"{f}:5"


def test_tsv_by_index_without_header_and_sniffed_delimiter(tmp_path):
    f = write(tmp_path / "r.tsv", "pos\tI liked it, a lot\nneg\tno\n")
    d = read_labelled_table(f, text_column=1, label_column=0)
    assert d.texts == ["I liked it, a lot", "no"] and d.labels == [("pos",), ("neg",)]
    g = write(tmp_path / "r.txt", "pos\ta, b\n")  # unknown extension, a tab in line 1 -> tab
    assert read_labelled_table(g, 1, 0).texts == ["a, b"]
    h = write(tmp_path / "r.dat", "x;y\n")
    assert read_labelled_table(h, 0, 1, delimiter=";").labels == [("y",)]
    # header=True with index columns skips the first row
    assert read_labelled_table(write(tmp_path / "i.csv", "t,l\na,b\n"), 0, 1, header=True).texts == ["a"]


def test_multi_label(tmp_path):
    f = write(tmp_path / "m.csv", 'text,tags\nx,"a,b"\ny,b\nz,"b, a,b"\n')
    d = read_labelled_table(f, "text", "tags", label_separator=",")
    assert d.labels == [("a", "b"), ("b",), ("b", "a")] and d.multi_label and d.classes == ["a", "b"]


def test_folder_of_files_and_folder_of_folders(tmp_path):
    write(tmp_path / "names" / "Greek.txt", "Adamos\n\nAlexandros\n")
    write(tmp_path / "names" / "Irish.txt", "Aodh\n")
    write(tmp_path / "names" / ".hidden", "ignored\n")
    d = read_labelled(tmp_path / "names")
    assert d.texts == ["Adamos", "Alexandros", "Aodh"] and d.labels == [("Greek",), ("Greek",), ("Irish",)]
    assert d.sources[1].endswith("Greek.txt:3")
    write(tmp_path / "imdb" / "pos" / "1.txt", "great\nfilm\n")
    write(tmp_path / "imdb" / "neg" / "2.txt", "dull")
    d = read_class_folder(tmp_path / "imdb")
    assert d.texts == ["dull", "great\nfilm"] and d.labels == [("neg",), ("pos",)]


def test_stratified_split_is_per_class_seeded_and_disjoint():
    texts = [f"t{i}" for i in range(43)]
    labels = [("a",)] * 30 + [("b",)] * 10 + [("c",)] * 2 + [("d",)]
    d = LabelledData(texts, labels)
    train, held = stratified_split(d, 0.1, seed=3)
    counts = {c: sum(lab == (c,) for lab in held.labels) for c in "abcd"}
    assert counts == {"a": 3, "b": 1, "c": 1, "d": 0}
    assert sorted(train.texts + held.texts, key=lambda t: int(t[1:])) == texts
    again = stratified_split(d, 0.1, seed=3)[1].texts
    assert again == held.texts and stratified_split(d, 0.1, seed=4)[1].texts != held.texts
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\)"):
        stratified_split(d, 1.0)


@pytest.mark.parametrize(
    "name, content, kwargs, message",
    [
        ("a.csv", "text,label\nx,y\n", {"label_column": "class"}, r"no column 'class' for the label column"),
        ("b.csv", "x,y\n", {"text_column": "text", "header": False}, "read without a header"),
        ("c.csv", "t,l\nx,y\nz\n", {"text_column": 0, "label_column": 1}, r"c.csv:3: has 1 columns"),
        ("d.csv", "", {}, "is empty"),
        ("e.csv", "text,label\n", {}, "is empty; expected labelled examples after the header"),
        ("f.csv", b"text,label\nok,a\ncaf\xe9,b\n", {}, r"f.csv:3: not valid UTF-8"),
        ("g.csv", "text,label\n ,a\n", {}, r"g.csv:2: empty text"),
        ("h.csv", "text,label\nx, \n", {}, r"h.csv:2: empty label"),
        ("i.csv", "text,label\nx,y\n", {"text_column": -1}, "0-based column index"),
        ("j.csv", "text,label\nx,y\n", {"delimiter": "ab"}, "one character"),
    ],
)
def test_table_errors(tmp_path, name, content, kwargs, message):
    f = write(tmp_path / name, content)
    with pytest.raises(LabelledDataError, match=message) as err:
        read_labelled_table(f, **kwargs)
    assert "\n" not in str(err.value)


def test_folder_errors(tmp_path):
    with pytest.raises(LabelledDataError, match="no such file"):
        read_labelled(tmp_path / "missing.csv")
    with pytest.raises(LabelledDataError, match="no such folder"):
        read_class_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelledDataError, match="is empty"):
        read_class_folder(tmp_path / "empty")
    write(tmp_path / "mixed" / "a.txt", "x\n")
    write(tmp_path / "mixed" / "b" / "1.txt", "y\n")
    with pytest.raises(LabelledDataError, match="mixes files and sub-folders"):
        read_class_folder(tmp_path / "mixed")
    write(tmp_path / "bad" / "Greek.txt", b"ok\n\xff\n")
    with pytest.raises(LabelledDataError, match=r"Greek.txt:2: not valid UTF-8"):
        read_class_folder(tmp_path / "bad")
    write(tmp_path / "blank" / "Irish.txt", "\n  \n")
    with pytest.raises(LabelledDataError, match=r"Irish.txt is empty"):
        read_class_folder(tmp_path / "blank")
    (tmp_path / "nested" / "pos").mkdir(parents=True)
    with pytest.raises(LabelledDataError, match="one file per example of class 'pos'"):
        read_class_folder(tmp_path / "nested")
    with pytest.raises(LabelledDataError, match="is a folder"):
        read_labelled_table(tmp_path / "nested")
