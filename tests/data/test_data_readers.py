import pytest

from unrolled.data import read_lines, read_text, read_utf8_file


def test_read_text_file_normalises_newlines_and_bom(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffline one\r\nline twö\rthree\n".encode())
    assert read_text(path) == "line one\nline twö\nthree\n"
    assert read_text(str(path)) == "line one\nline twö\nthree\n"


def test_read_text_folder_sorted_txt_only(tmp_path):
    (tmp_path / "b.txt").write_text("bee", encoding="utf-8")
    (tmp_path / "a.txt").write_text("ay\n", encoding="utf-8")
    (tmp_path / "10.txt").write_text("ten", encoding="utf-8")
    (tmp_path / "c.md").write_text("ignored", encoding="utf-8")
    (tmp_path / "sub.txt").mkdir()  # a folder named *.txt is not read
    assert read_text(tmp_path) == "ten\nay\n\nbee"


def test_not_utf8_is_one_line_error_naming_file_and_offset(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"\xff\xfe abc")
    with pytest.raises(ValueError, match=r"latin.txt: not valid UTF-8 at byte offset 0 .*expected UTF-8 text") as info:
        read_text(path)
    assert "\n" not in str(info.value)
    path.write_bytes("héllo \xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="byte offset 1"):
        read_text(path)


def test_not_utf8_in_folder_names_that_file(tmp_path):
    (tmp_path / "a.txt").write_text("fine", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes(b"ok \xff")
    with pytest.raises(ValueError, match=r"b.txt: not valid UTF-8 at byte offset 3"):
        read_text(tmp_path)


def test_empty_inputs(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.txt is empty; expected text"):
        read_text(empty)
    blank = tmp_path / "blank.txt"
    blank.write_text(" \n\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"blank.txt is empty; expected text"):
        read_text(blank)
    folder = tmp_path / "nothing"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"nothing is empty; expected text \(a folder holding at least one .txt"):
        read_text(folder)
    (folder / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="nothing is empty"):
        read_text(folder)
    assert read_utf8_file(empty) == ""


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing.txt: no such file or folder; expected a UTF-8") as info:
        read_text(tmp_path / "missing.txt")
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="missing.txt: no such file"):
        read_lines(tmp_path / "missing.txt")


def test_read_lines(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("first sentence\n\n  second  \n   \nthird\n", encoding="utf-8")
    assert read_lines(path) == ["first sentence", "  second  ", "third"]
    assert read_lines(path, skip_empty=False) == ["first sentence", "", "  second  ", "   ", "third"]
    path.write_text("no final newline", encoding="utf-8")
    assert read_lines(path, skip_empty=False) == ["no final newline"]


def test_type_errors(tmp_path):
    with pytest.raises(TypeError, match="expected a path"):
        read_text(3)
    with pytest.raises(TypeError, match="skip_empty to be a bool"):
        read_lines(tmp_path, skip_empty="yes")
    with pytest.raises(ValueError, match="is a folder; expected a UTF-8 text file"):
        read_utf8_file(tmp_path)


def test_read_documents_gives_one_text_per_file_and_joins_to_read_text(tmp_path):
    from unrolled.data import read_documents

    (tmp_path / "b.txt").write_text("second\r\nfile", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first", encoding="utf-8")
    (tmp_path / "c.md").write_text("ignored", encoding="utf-8")
    assert read_documents(tmp_path) == ["first", "second\nfile"]
    assert "\n".join(read_documents(tmp_path)) == read_text(tmp_path)
    assert read_documents(tmp_path / "a.txt") == ["first"]
