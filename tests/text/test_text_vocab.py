import json

import pytest
import torch

from unrolled.text import SPECIAL_TOKENS, Vocabulary

CORPUS = "b a c a b a d".split()


def test_build_orders_by_frequency_then_first_appearance():
    vocab = Vocabulary.build(CORPUS)
    assert vocab.tokens == ["<unk>", "<pad>", "<bos>", "<eos>", "a", "b", "c", "d"]
    assert (vocab.unk_id, vocab.pad_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert len(vocab) == 8
    assert Vocabulary.build(iter(CORPUS)) == vocab  # same corpus -> same ids, from any iterable


def test_min_freq_and_max_size():
    assert Vocabulary.build(CORPUS, min_freq=2).tokens[4:] == ["a", "b"]
    assert Vocabulary.build(CORPUS, min_freq=4).tokens == list(SPECIAL_TOKENS)
    assert Vocabulary.build(CORPUS, max_size=6).tokens[4:] == ["a", "b"]
    assert Vocabulary.build(CORPUS, max_size=4).tokens == list(SPECIAL_TOKENS)
    assert Vocabulary.build(CORPUS, max_size=2, specials=()).tokens == ["a", "b"]


def test_specials_subset_in_canonical_order():
    vocab = Vocabulary.build(CORPUS, specials=("<eos>", "<unk>"))
    assert vocab.tokens[:3] == ["<unk>", "<eos>", "a"]
    assert vocab.eos_id == 1
    with pytest.raises(ValueError, match=r"this vocabulary has no <pad> token; its specials are \['<unk>', '<eos>'\]"):
        _ = vocab.pad_id


def test_corpus_occurrences_of_specials_map_to_the_special():
    vocab = Vocabulary.build(["x", "<unk>", "<unk>", "<unk>", "y", "y"])
    assert vocab.tokens[4:] == ["y", "x"]
    assert vocab.encode(["<unk>", "x"]) == [0, 5]
    # without <unk> among the specials it is an ordinary token
    assert Vocabulary.build(["<unk>", "x"], specials=("<pad>",)).tokens == ["<pad>", "<unk>", "x"]


def test_encode_decode():
    vocab = Vocabulary.build(CORPUS)
    assert vocab.encode(["a", "d", "zzz", "<eos>"]) == [4, 7, 0, 3]
    assert vocab.decode([4, 7, 0, 3]) == ["a", "d", "<unk>", "<eos>"]
    assert vocab.decode(torch.tensor([2, 5, 3]), skip_specials=True) == ["b"]
    assert vocab.token_to_id("c") == 6 and vocab.token_to_id("nope") == 0
    assert vocab.id_to_token(5) == "b" and vocab.id_to_token(torch.tensor(6)) == "c"
    assert "a" in vocab and "zzz" not in vocab and 4 not in vocab
    assert list(vocab) == vocab.tokens


def test_unknown_without_unk_is_an_error_naming_the_token():
    vocab = Vocabulary.build(CORPUS, specials=("<pad>",))
    assert vocab.encode(["a", "b"]) == [1, 2]
    with pytest.raises(ValueError, match=r"unknown token 'zzz' and the vocabulary has no <unk>"):
        vocab.encode(["a", "zzz"])
    with pytest.raises(ValueError, match="has no <unk> token"):
        _ = vocab.unk_id


def test_lookup_errors():
    vocab = Vocabulary.build(CORPUS)
    with pytest.raises(ValueError, match=r"id 8 out of range; expected 0 <= id < 8"):
        vocab.decode([1, 8])
    with pytest.raises(ValueError, match="id -1 out of range"):
        vocab.id_to_token(-1)
    with pytest.raises(TypeError, match="expected an int id, got str"):
        vocab.id_to_token("a")
    with pytest.raises(TypeError, match="tokenize the text first"):
        vocab.encode("abc")
    with pytest.raises(TypeError, match="expected a str token, got int"):
        vocab.encode(["a", 3])


def test_build_and_constructor_errors():
    with pytest.raises(TypeError, match="got a str; tokenize the text first"):
        Vocabulary.build("a b c")
    with pytest.raises(TypeError, match="flatten sentences first"):
        Vocabulary.build([["a", "b"], ["c"]])
    with pytest.raises(TypeError, match="expected str tokens, got int"):
        Vocabulary.build(["a", 1])
    with pytest.raises(ValueError, match="min_freq to be an int >= 1, got 0"):
        Vocabulary.build(CORPUS, min_freq=0)
    with pytest.raises(ValueError, match=r"max_size to be None or an int >= the number of specials \(4\), got 3"):
        Vocabulary.build(CORPUS, max_size=3)
    with pytest.raises(ValueError, match="unknown special token '<mask>'"):
        Vocabulary(specials=("<mask>",))
    with pytest.raises(ValueError, match="distinct special tokens"):
        Vocabulary(specials=("<unk>", "<unk>"))
    with pytest.raises(TypeError, match="expected specials to be a list"):
        Vocabulary(specials="<unk>")
    with pytest.raises(ValueError, match="token 'a' is a duplicate"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match="token '<pad>' is a special token"):
        Vocabulary(["<pad>"])
    with pytest.raises(ValueError, match="non-empty tokens"):
        Vocabulary([""])


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary.build("naïve Москва 😀 the the \n".split(" "), specials=("<unk>", "<eos>"))
    path = tmp_path / "sub" / "vocab.json"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == vocab and loaded.tokens == vocab.tokens and loaded.specials == ("<unk>", "<eos>")
    raw = path.read_bytes().decode("utf-8")
    assert "Москва" in raw  # written as UTF-8, not \u escapes
    assert json.loads(raw)["tokens"] == vocab.tokens
    assert sorted(p.name for p in path.parent.iterdir()) == ["vocab.json"]  # no temp file left behind
    vocab2 = Vocabulary.build(["x"])
    vocab2.save(path)  # overwrite in place
    assert Vocabulary.load(path) == vocab2


def _payload(version=1, specials=(), tokens=()):
    obj = {"format": "unrolled.vocabulary", "version": version, "specials": specials, "tokens": tokens}
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"{not json", r"bad.json: not valid JSON \(.* at line 1 column 2\)"),
        (b"[1, 2]", r"bad.json: not an unrolled vocabulary; expected a JSON object"),
        (b'{"format": "other"}', r"bad.json: not an unrolled vocabulary"),
        (_payload(version=9), "unsupported vocabulary version 9"),
        (_payload(tokens="ab"), "must be lists"),
        (_payload(specials=["<unk>"], tokens=["a"]), "must start with the specials"),
        (_payload(tokens=["a", "a"]), r"bad.json: invalid vocabulary \(token 'a' is a duplicate"),
        (_payload(specials=["<x>"], tokens=["<x>"]), "unknown special token"),
        (_payload(tokens=["a", 3]), "expected str tokens, got int"),
        (b"\xff\xfe{}", r"bad.json: not valid UTF-8 at byte offset 0"),
    ],
)
def test_load_errors_are_one_line_naming_the_file(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        Vocabulary.load(path)
    assert "\n" not in str(info.value)


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json: no such file"):
        Vocabulary.load(tmp_path / "nope.json")


def test_saved_vocabulary_has_the_normal_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        Vocabulary(["a"]).save(tmp_path / "vocab.json")
    finally:
        os.umask(old)
    assert (tmp_path / "vocab.json").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temporary file left
