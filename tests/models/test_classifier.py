"""SequenceClassifier: padding invariance, overfitting tiny sets, class-weighted losses by formula, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unrolled.models.classifier import (
    BinaryHead,
    ClassifierConfig,
    MultiClassHead,
    MultiLabelHead,
    SequenceClassifier,
    balanced_class_weights,
)

SMALL = dict(embed_dim=6, hidden=8)


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_changes_nothing(pooling, bidirectional):
    torch.manual_seed(0)
    cfg = ClassifierConfig(cell="gru", pooling=pooling, bidirectional=bidirectional, layers=2, head_hidden=5, **SMALL)
    model = SequenceClassifier(3, vocab_size=12, config=cfg, pad_id=0).eval()
    seqs = [[4, 5, 6, 7], [8, 9], [10]]
    padded = torch.tensor([s + [0] * (4 - len(s)) for s in seqs])
    batch = model(padded, torch.tensor([4, 2, 1]))
    for i, s in enumerate(seqs):
        alone = model(torch.tensor([s]))
        assert torch.allclose(batch[i], alone[0], atol=1e-5), (pooling, i)


def _fit(model, x, lengths, y, steps=150, lr=0.05):
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = model.loss(model(x, lengths), y)
        loss.backward()
        opt.step()
    return loss.item()


@pytest.mark.parametrize("head", ["binary", "multiclass", "multilabel"])
def test_overfits_a_tiny_set(head):
    torch.manual_seed(0)
    x = torch.tensor([[2, 3, 4], [5, 6, 1], [7, 1, 1], [3, 2, 8]])
    lengths = torch.tensor([3, 2, 1, 3])
    y = {
        "binary": torch.tensor([0, 1, 1, 0]),
        "multiclass": torch.tensor([0, 1, 2, 1]),
        "multilabel": torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]]),
    }[head]
    C = 2 if head == "binary" else 3
    model = SequenceClassifier(C, vocab_size=9, config=ClassifierConfig(cell="lstm", head=head, **SMALL), pad_id=1)
    assert _fit(model, x, lengths, y, steps=60, lr=0.1) < 0.01
    assert torch.equal(model.predict(model(x, lengths)), y)
    p = model.probabilities(model(x, lengths))
    assert p.shape == (4, C) and (head == "multilabel" or torch.allclose(p.sum(1), torch.ones(4)))


def test_numeric_features_learn_the_sign_of_a_sum():
    torch.manual_seed(0)
    x = torch.randn(32, 5, 2)
    y = (x.sum((1, 2)) > 0).long()
    model = SequenceClassifier(2, input_size=2, config=ClassifierConfig(cell="elman", head="binary", hidden=16))
    _fit(model, x, None, y, steps=80)
    assert (model.predict(model(x)) == y).float().mean() > 0.95


def test_class_weights_change_the_loss_as_the_formula_says():
    torch.manual_seed(0)
    logits, y = torch.randn(5, 3), torch.tensor([0, 2, 2, 1, 0])
    w = torch.tensor([0.5, 2.0, 3.0])
    nll = -torch.log_softmax(logits, 1)[torch.arange(5), y]
    want = (w[y] * nll).sum() / w[y].sum()
    assert torch.allclose(MultiClassHead.loss(logits, y, w), want)
    assert torch.allclose(MultiClassHead.loss(logits, y), nll.mean())

    s, yb, wb = torch.randn(4, 1), torch.tensor([1, 0, 1, 1]), torch.tensor([3.0, 0.5])
    p = torch.sigmoid(s[:, 0])
    per = -(yb * torch.log(p) + (1 - yb) * torch.log(1 - p))
    assert torch.allclose(BinaryHead.loss(s, yb, wb), (wb[yb] * per).sum() / wb[yb].sum())
    assert torch.allclose(BinaryHead.loss(s, yb), per.mean())

    s, ym, pw = torch.randn(3, 2), torch.tensor([[1, 0], [1, 1], [0, 1]]), torch.tensor([4.0, 0.25])
    p = torch.sigmoid(s)
    per = -(pw * ym * torch.log(p) + (1 - ym) * torch.log(1 - p))
    assert torch.allclose(MultiLabelHead.loss(s, ym, pw), per.mean())

    model = SequenceClassifier(3, vocab_size=5, config=ClassifierConfig(**SMALL), class_weights=w)
    assert torch.allclose(model.loss(logits, y), want)


def test_balanced_weights_equal_sklearn():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0, 0, 0, 0, 1, 2, 2, 0, 1])
    want = compute_class_weight("balanced", classes=np.arange(3), y=y)
    assert np.allclose(balanced_class_weights(torch.tensor(y), 3).numpy(), want)
    assert balanced_class_weights(torch.tensor([0, 0]), 2).tolist() == [0.5, 1.0]  # 2 / (2 * 2); absent class -> 1
    ml = torch.tensor([[1, 0], [1, 1], [1, 0], [0, 0]])
    assert balanced_class_weights(ml, 2, "multilabel").tolist() == [pytest.approx(1 / 3), 3.0]


def test_pretrained_embedding_frozen_or_fine_tuned():
    matrix = torch.arange(30.0).view(5, 6) / 30
    x, y = torch.tensor([[1, 2], [3, 4]]), torch.tensor([0, 1])
    for freeze in (True, False):
        torch.manual_seed(0)
        model = SequenceClassifier(
            2, vocab_size=5, config=ClassifierConfig(**SMALL), embedding=matrix, freeze_embedding=freeze
        )
        assert torch.equal(model.embedding.weight.detach(), matrix)
        _fit(model, x, None, y, steps=3)
        assert torch.equal(model.embedding.weight.detach(), matrix) == freeze


def test_seeded_runs_are_identical():
    out = []
    for _ in range(2):
        torch.manual_seed(7)
        model = SequenceClassifier(3, vocab_size=9, config=ClassifierConfig(pooling="attention", **SMALL))
        out.append(model(torch.tensor([[1, 2, 3]])))
    assert torch.equal(out[0], out[1])


def test_loss_is_log_c_for_a_uniform_model():
    model = SequenceClassifier(4, vocab_size=5, config=ClassifierConfig(**SMALL))
    torch.nn.init.zeros_(model.out.weight)
    torch.nn.init.zeros_(model.out.bias)
    logits = model(torch.tensor([[1, 2], [3, 4]]))
    assert model.loss(logits, torch.tensor([0, 3])).item() == pytest.approx(math.log(4))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: ClassifierConfig(cell="tree"), "model.cell"),
        (lambda: ClassifierConfig(pooling="median"), "model.pooling"),
        (lambda: ClassifierConfig(head="ordinal"), "model.head"),
        (lambda: ClassifierConfig(hidden=0), "model.hidden"),
        (lambda: ClassifierConfig(dropout=1.0), "model.dropout"),
        (lambda: ClassifierConfig(head_hidden=-1), "model.head_hidden"),
        (lambda: ClassifierConfig(activation="gelu"), "model.activation"),
        (lambda: ClassifierConfig(attention_size=0), "model.attention_size"),
        (lambda: ClassifierConfig(bidirectional="yes"), "model.bidirectional"),
        (lambda: SequenceClassifier(3), "exactly one of vocab_size"),
        (lambda: SequenceClassifier(3, vocab_size=5, input_size=2), "exactly one of vocab_size"),
        (lambda: SequenceClassifier(3, config=ClassifierConfig(head="binary"), vocab_size=5), "exactly 2 classes"),
        (lambda: SequenceClassifier(1, vocab_size=5), "at least 2 classes"),
        (lambda: SequenceClassifier(2, vocab_size=5, embedding=torch.zeros(5, 3)), r"\(V, E\) = \(5, 64\)"),
        (lambda: SequenceClassifier(2, input_size=3, embedding=torch.zeros(5, 3)), "needs token inputs"),
        (lambda: SequenceClassifier(2, vocab_size=5, class_weights=[1.0]), "class_weights must be 2"),
        (lambda: SequenceClassifier(2, vocab_size=5)(torch.randn(2, 3)), "integer token ids"),
        (lambda: SequenceClassifier(2, input_size=4)(torch.randn(2, 3, 2)), r"I=4"),
    ],
)
def test_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()
