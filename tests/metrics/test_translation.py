"""BLEU and chrF equal sacrebleu's; exact match by hand."""

import pytest
import sacrebleu

from unrolled.metrics.translation import corpus_bleu, corpus_chrf, exact_match, translation_scores

HYP = ["the cat sat on a mat .", "hello there general kenobi", "it is raining today"]
REF = ["the cat sat on the mat .", "hello there general kenobi", "today it rains"]


def test_bleu_and_chrf_equal_sacrebleu():
    assert corpus_bleu(HYP, REF) == sacrebleu.corpus_bleu(HYP, [REF]).score
    assert corpus_chrf(HYP, REF) == sacrebleu.corpus_chrf(HYP, [REF]).score
    assert corpus_bleu(REF, REF) == pytest.approx(100.0)
    assert 0 < corpus_bleu(HYP, REF) < 100


def test_exact_match():
    assert exact_match(HYP, REF) == pytest.approx(1 / 3)
    assert translation_scores(REF, REF)["exact_match"] == 1.0


def test_errors():
    with pytest.raises(ValueError, match="2 hypotheses but 3 references"):
        corpus_bleu(HYP[:2], REF)
    with pytest.raises(ValueError, match="list of strings"):
        corpus_bleu("abc", "abc")
    with pytest.raises(ValueError, match="no hypotheses"):
        exact_match([], [])
