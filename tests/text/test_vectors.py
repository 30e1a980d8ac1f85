"""Word vectors: both text formats, the embedding matrix row by row, coverage counts, every error path."""

from __future__ import annotations

import pytest
import torch

from unrolled.text.vectors import Coverage, VectorsError, WordVectors, embedding_matrix, read_word_vectors
from unrolled.text.vocab import Vocabulary

GLOVE = "the 0.1 0.2 0.3\ncat -1 0 2.5\ndog 1e-1 2 3\nthe 9 9 9\n"


def write(tmp_path, name, content):
    f = tmp_path / name
    f.write_bytes(content.encode() if isinstance(content, str) else content)
    return f


def test_glove_and_word2vec_formats(tmp_path):
    wv = read_word_vectors(write(tmp_path, "g.txt", GLOVE))
    assert wv.words == ["the", "cat", "dog"] and wv.dim == 3  # duplicate 'the' keeps the first
    assert torch.equal(wv["cat"], torch.tensor([-1.0, 0.0, 2.5]))
    w2v = read_word_vectors(write(tmp_path, "w.txt", "3 3\n" + GLOVE))
    assert w2v.words == wv.words and torch.equal(w2v.vectors, wv.vectors)
    assert read_word_vectors(write(tmp_path, "l.txt", GLOVE), limit=2).words == ["the", "cat"]


def test_embedding_matrix_rows_and_coverage(tmp_path):
    wv = read_word_vectors(write(tmp_path, "g.txt", GLOVE))
    vocab = Vocabulary(["the", "Dog", "bird"])  # ids: 4 specials, then the, Dog, bird
    counts = {"the": 10, "Dog": 3, "bird": 7}
    matrix, cov = embedding_matrix(vocab, wv, counts)
    assert matrix.shape == (7, 3)
    assert torch.equal(matrix[4], wv["the"]) and torch.equal(matrix[5], wv["dog"])  # lower-cased fallback
    assert torch.equal(matrix[vocab.pad_id], torch.zeros(3))
    assert cov == Coverage(found=2, total=3, found_tokens=13, total_tokens=20)
    assert cov.words == pytest.approx(2 / 3) and cov.tokens == pytest.approx(0.65)
    assert "2/3 vocabulary words (66.7%), 65.0% of 20 corpus tokens" in cov.format()
    again, _ = embedding_matrix(vocab, wv, counts)
    assert torch.equal(matrix, again)  # seeded random rows
    strict, cov2 = embedding_matrix(vocab, wv, lowercase=False)
    assert cov2.found == 1 and not torch.equal(strict[5], wv["dog"]) and cov2.tokens == 0.0
    # the random rows have the pretrained values' spread
    big = WordVectors(["a"], torch.randn(1, 2000) * 3)
    m, _ = embedding_matrix(Vocabulary(["zzz"]), big)
    assert m[4].std().item() == pytest.approx(big.vectors.std().item(), rel=0.1)


@pytest.mark.parametrize(
    "content, message",
    [
        ("a 1 2\nb 1 2 3\n", r"x.txt:2: ragged row: 3 numbers after 'b', expected 2"),
        ("2 3\na 1 2\n", r"x.txt:2: ragged row: 2 numbers after 'a', expected 3"),
        ("a 1 x\n", r"x.txt:1: not a number in the vector of 'a'"),
        ("a\n", r"x.txt:1: no numbers after 'a'"),
        ("", "is empty"),
        ("\n\n", "is empty"),
        (b"a 1\n\xe9 2\n", r"x.txt:2: not valid UTF-8"),
    ],
)
def test_errors(tmp_path, content, message):
    with pytest.raises(VectorsError, match=message) as err:
        read_word_vectors(write(tmp_path, "x.txt", content))
    assert "\n" not in str(err.value)


def test_missing_file_and_bad_limit(tmp_path):
    with pytest.raises(VectorsError, match="no such file"):
        read_word_vectors(tmp_path / "none.txt")
    with pytest.raises(VectorsError, match="limit"):
        read_word_vectors(write(tmp_path, "g.txt", GLOVE), limit=0)
