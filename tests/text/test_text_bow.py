import math

import pytest
import torch

from unrolled.text import BagOfWords, Normalizer, Vocabulary, WordTokenizer, document_term_matrix, term_document_matrix

DOCS = [["a", "b", "b"], ["b", "c"], ["a"]]


def vocab_of(docs, **kwargs):
    return Vocabulary.build([t for d in docs for t in d], **kwargs)


def test_count_matrix_exact():
    vocab = vocab_of(DOCS, specials=())
    assert vocab.tokens == ["b", "a", "c"]
    dtm = document_term_matrix(DOCS, vocab)
    assert dtm.is_sparse and dtm.is_coalesced() and dtm.dtype == torch.float32
    assert dtm.to_dense().tolist() == [[2.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    tdm = term_document_matrix(DOCS, vocab)
    assert tdm.to_dense().tolist() == dtm.to_dense().t().tolist()


def test_tfidf_hand_computed():
    vocab = vocab_of(DOCS, specials=())
    # n = 3; df(b) = 2, df(a) = 2, df(c) = 1; idf = ln((1 + n) / (1 + df)) + 1
    idf_ab = math.log(4 / 3) + 1
    idf_c = math.log(4 / 2) + 1
    raw = document_term_matrix(DOCS, vocab, weighting="tfidf", dtype=torch.float64).to_dense()
    expected = [[2 * idf_ab, idf_ab, 0.0], [idf_ab, 0.0, idf_c], [0.0, idf_ab, 0.0]]
    torch.testing.assert_close(raw, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)
    l2 = document_term_matrix(DOCS, vocab, weighting="tfidf", norm="l2", dtype=torch.float64).to_dense()
    n2 = math.hypot(idf_ab, idf_c)
    expected = [[2 / math.sqrt(5), 1 / math.sqrt(5), 0.0], [idf_ab / n2, 0.0, idf_c / n2], [0.0, 1.0, 0.0]]
    torch.testing.assert_close(l2, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)
    assert l2[1].tolist() == pytest.approx([0.605349, 0.0, 0.795961], abs=1e-6)


def test_tfidf_matches_scikit_learn_documented_example():
    # scikit-learn's TfidfVectorizer docs: first row of fit_transform on this corpus is
    # [0, 0.46979139, 0.58028582, 0.38408524, 0, 0, 0.38408524, 0, 0.38408524] over
    # ['and', 'document', 'first', 'is', 'one', 'second', 'the', 'third', 'this'].
    corpus = [
        "This is the first document.",
        "This document is the second document.",
        "And this is the third one.",
        "Is this the first document?",
    ]
    norm = Normalizer(lowercase=True, strip_punctuation=True)
    docs = [WordTokenizer().tokenize(norm(text)) for text in corpus]
    vocab = vocab_of(docs, specials=())
    row = document_term_matrix(docs, vocab, weighting="tfidf", norm="l2", dtype=torch.float64).to_dense()[0]
    sklearn_terms = ["and", "document", "first", "is", "one", "second", "the", "third", "this"]
    sklearn_row = [0, 0.46979139, 0.58028582, 0.38408524, 0, 0, 0.38408524, 0, 0.38408524]
    ours = [row[vocab.token_to_id(t)].item() for t in sklearn_terms]
    assert ours == pytest.approx(sklearn_row, abs=1e-8)


def test_fit_on_train_transform_test_and_unknowns():
    vocab = vocab_of(DOCS)  # with <unk> = id 0
    bow = BagOfWords(vocab, weighting="tfidf").fit(DOCS)
    idf = bow.idf
    assert idf[vocab.token_to_id("c")].item() == pytest.approx(math.log(2) + 1)
    assert idf[vocab.unk_id].item() == pytest.approx(math.log(4) + 1)  # df = 0 in the training set
    out = bow.transform([["c", "zzz", "zzz"], []]).to_dense()
    expected = torch.zeros(2, len(vocab))
    expected[0, vocab.token_to_id("c")] = math.log(2) + 1
    expected[0, vocab.unk_id] = 2 * (math.log(4) + 1)
    torch.testing.assert_close(out, expected)
    ignored = BagOfWords(vocab, ignore_unknown=True).fit_transform([["c", "zzz"]]).to_dense()
    assert ignored[0].tolist() == [1.0 if t == "c" else 0.0 for t in vocab.tokens]


def test_l1_norm_rows_sum_to_one():
    vocab = vocab_of(DOCS, specials=())
    dtm = document_term_matrix(DOCS, vocab, norm="l1", dtype=torch.float64).to_dense()
    expected = torch.tensor([[2 / 3, 1 / 3, 0.0], [0.5, 0.0, 0.5], [0.0, 1.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(dtm, expected, rtol=0, atol=1e-15)


def test_errors():
    vocab = vocab_of(DOCS, specials=())
    with pytest.raises(ValueError, match=r"unknown weighting 'bm25'; expected one of: count, tfidf"):
        BagOfWords(vocab, weighting="bm25")
    with pytest.raises(ValueError, match=r"unknown norm 'l3'; expected None or one of: l1, l2"):
        BagOfWords(vocab, norm="l3")
    with pytest.raises(TypeError, match="expected vocab to be a Vocabulary"):
        BagOfWords(["a"])
    with pytest.raises(TypeError, match="floating torch.dtype"):
        BagOfWords(vocab, dtype=torch.int64)
    with pytest.raises(TypeError, match="ignore_unknown to be a bool"):
        BagOfWords(vocab, ignore_unknown=1)
    with pytest.raises(ValueError, match=r"not fitted; call fit\(train_docs\) before transform"):
        BagOfWords(vocab, weighting="tfidf").transform(DOCS)
    with pytest.raises(TypeError, match=r"docs\[1\] to be a list of tokens, got a str"):
        document_term_matrix([["a"], "b c"], vocab)
    with pytest.raises(TypeError, match="list of token lists, got str"):
        document_term_matrix("a b", vocab)
    with pytest.raises(ValueError, match="unknown token 'zzz'"):
        document_term_matrix([["zzz"]], vocab)
