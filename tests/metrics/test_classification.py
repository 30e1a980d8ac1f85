"""Classification scores equal scikit-learn's on fixed arrays, and hand computations on tiny ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unrolled.metrics.classification import (
    accuracy,
    classification_report,
    confusion_matrix,
    f1_scores,
    per_class_scores,
)

sk = pytest.importorskip("sklearn.metrics")

RNG = np.random.default_rng(3)
Y_TRUE = RNG.integers(0, 5, size=200)
Y_PRED = np.where(RNG.random(200) < 0.6, Y_TRUE, RNG.integers(0, 5, size=200))
Y_PRED[Y_PRED == 4] = 3  # class 4 never predicted: its precision is 0/0 -> 0
ML_TRUE = (RNG.random((50, 4)) < 0.4).astype(int)
ML_PRED = np.where(RNG.random((50, 4)) < 0.7, ML_TRUE, 1 - ML_TRUE)


def test_hand_computed_tiny_case():
    t, p = [0, 1, 1, 2], [0, 0, 1, 1]
    assert accuracy(t, p) == 0.5
    assert confusion_matrix(t, p, 3).tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 0]]
    s = per_class_scores(t, p, 3)
    assert s["precision"].tolist() == [0.5, 0.5, 0.0]
    assert s["recall"].tolist() == [1.0, 0.5, 0.0]
    assert np.allclose(s["f1"], [2 / 3, 0.5, 0.0])
    assert s["support"].tolist() == [1, 2, 1]
    f = f1_scores(t, p, 3)
    assert f["macro"] == pytest.approx((2 / 3 + 0.5) / 3) and f["micro"] == pytest.approx(0.5)


def test_multiclass_equals_sklearn():
    labels = list(range(5))
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(sk.accuracy_score(Y_TRUE, Y_PRED))
    assert (confusion_matrix(Y_TRUE, Y_PRED, 5) == sk.confusion_matrix(Y_TRUE, Y_PRED, labels=labels)).all()
    p, r, f, s = sk.precision_recall_fscore_support(Y_TRUE, Y_PRED, labels=labels, zero_division=0)
    ours = per_class_scores(Y_TRUE, Y_PRED, 5)
    assert np.allclose(ours["precision"], p) and np.allclose(ours["recall"], r) and np.allclose(ours["f1"], f)
    assert (ours["support"] == s).all()
    for avg in ("macro", "micro"):
        want = sk.f1_score(Y_TRUE, Y_PRED, labels=labels, average=avg, zero_division=0)
        assert f1_scores(Y_TRUE, Y_PRED, 5)[avg] == pytest.approx(want)


def test_multilabel_equals_sklearn():
    assert accuracy(ML_TRUE, ML_PRED) == pytest.approx(sk.accuracy_score(ML_TRUE, ML_PRED))
    p, r, f, s = sk.precision_recall_fscore_support(ML_TRUE, ML_PRED, zero_division=0)
    ours = per_class_scores(ML_TRUE, ML_PRED)
    assert np.allclose(ours["precision"], p) and np.allclose(ours["recall"], r) and np.allclose(ours["f1"], f)
    for avg in ("macro", "micro"):
        assert f1_scores(ML_TRUE, ML_PRED)[avg] == pytest.approx(sk.f1_score(ML_TRUE, ML_PRED, average=avg))


def test_tensors_and_absent_classes():
    # class 3 appears nowhere: it still counts (F1 0) in the macro mean over num_classes, as sklearn labels=
    t, p = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 2, 1])
    want = sk.f1_score(t.numpy(), p.numpy(), labels=[0, 1, 2, 3], average="macro", zero_division=0)
    assert f1_scores(t, p, 4)["macro"] == pytest.approx(want)


def test_report():
    r = classification_report(Y_TRUE, Y_PRED, ["a", "b", "c", "d", "e"])
    d = r.to_dict()
    assert d["labels"] == ["a", "b", "c", "d", "e"] and len(d["confusion"]) == 5
    assert d["per_class"][4] == {
        "label": "e",
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": int((Y_TRUE == 4).sum()),
    }
    assert d["macro_f1"] == pytest.approx(sk.f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0))
    assert "macro F1" in r.format() and r.format().count("\n") == 6
    ml = classification_report(ML_TRUE, ML_PRED, ["w", "x", "y", "z"])
    assert ml.confusion is None and ml.to_dict()["confusion"] is None


@pytest.mark.parametrize(
    "t, p, message",
    [
        ([0, 1], [0], "same shape"),
        ([], [], "at least one"),
        ([0.5, 1], [0, 1], "integer class ids"),
        ([-1, 0], [0, 0], "non-negative"),
        ([[0, 2]], [[0, 1]], "0/1 indicator"),
        ([[[0]]], [[[0]]], "shape"),
    ],
)
def test_errors(t, p, message):
    with pytest.raises(ValueError, match=message):
        accuracy(t, p)


def test_out_of_range_ids():
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        confusion_matrix([0, 2], [0, 1], 2)
    with pytest.raises(ValueError, match="multi-label"):
        confusion_matrix([[0, 1]], [[0, 1]])
