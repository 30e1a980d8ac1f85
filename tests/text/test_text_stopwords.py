import pytest

from unrolled.text import ENGLISH_STOP_WORDS, StopWords


def test_builtin_list():
    assert len(ENGLISH_STOP_WORDS) == 179
    assert {"the", "and", "don't", "wouldn't", "i"} <= ENGLISH_STOP_WORDS
    assert "cat" not in ENGLISH_STOP_WORDS
    assert all(w == w.lower() for w in ENGLISH_STOP_WORDS)


def test_remove_default_case_insensitive_keeps_case_of_kept_tokens():
    sw = StopWords()
    assert sw.remove(["The", "Cat", "sat", "ON", "the", "mat", "."]) == ["Cat", "sat", "mat", "."]
    assert "THE" in sw and "cat" not in sw and 3 not in sw
    assert len(sw) == 179


def test_case_sensitive():
    sw = StopWords(case_sensitive=True)
    assert sw.remove(["The", "the", "Is", "is"]) == ["The", "Is"]


def test_words_replace_builtin_and_extra_adds():
    sw = StopWords(words=["cat"], extra=["Mat"])
    assert sw.words == frozenset({"cat", "mat"})
    assert sw.remove(["the", "cat", "MAT", "dog"]) == ["the", "dog"]


def test_extra_extends_builtin():
    sw = StopWords(extra=["foo"])
    assert len(sw) == 180
    assert sw.remove(["foo", "the", "bar"]) == ["bar"]


def test_from_file(tmp_path):
    path = tmp_path / "stop.txt"
    path.write_bytes("\ufeff# my list\r\n\r\nfoo\r\n  Bär  \n#not a word\n".encode())
    sw = StopWords.from_file(path, extra=["baz"])
    assert sw.words == frozenset({"foo", "bär", "baz"})
    assert sw.remove(["Foo", "BÄR", "qux"]) == ["qux"]


def test_from_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt: no such file"):
        StopWords.from_file(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe abc")
    with pytest.raises(ValueError, match=r"bad.txt: not valid UTF-8 at byte offset 3"):
        StopWords.from_file(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.txt holds no stop word"):
        StopWords.from_file(empty)


def test_errors():
    with pytest.raises(TypeError, match="wrap it in a list"):
        StopWords(words="the")
    with pytest.raises(TypeError, match="extra to hold str words, got int"):
        StopWords(extra=[1])
    with pytest.raises(TypeError, match="case_sensitive to be a bool"):
        StopWords(case_sensitive="no")
    with pytest.raises(TypeError, match="tokenize the text first"):
        StopWords().remove("the cat")
    with pytest.raises(TypeError, match="expected str tokens, got int"):
        StopWords().remove(["the", 3])
