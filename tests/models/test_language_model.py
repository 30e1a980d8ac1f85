"""RNNLanguageModel: weight tying, projection, exact perplexity of a known distribution, decoding interface."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from unrolled.models import RNNLanguageModel, RNNLMConfig


def _lm(**kw):
    torch.manual_seed(0)
    cfg = RNNLMConfig(**{"hidden": 12, "embed_dim": 6, "layers": 1, "dropout": 0.0, **kw})
    return RNNLanguageModel(17, cfg)


def test_tied_weights_share_one_tensor_and_project_when_widths_differ():
    lm = _lm(tie_weights=True)
    assert lm.decoder.weight is lm.embedding.weight
    assert lm.projection is not None and lm.projection.in_features == 12 and lm.projection.out_features == 6
    same = _lm(tie_weights=True, hidden=6)
    assert same.projection is None and same.decoder.weight is same.embedding.weight
    # one tensor: its gradient collects both uses
    logits, _ = lm(torch.randint(0, 17, (2, 5)))
    logits.sum().backward()
    assert lm.embedding.weight.grad is not None
    untied = _lm()
    n_tied = sum(p.numel() for p in lm.parameters())
    n_untied = sum(p.numel() for p in untied.parameters())
    assert n_untied - n_tied == 17 * 12 - (12 * 6 + 6)  # softmax matrix saved, projection added


def test_uniform_model_has_perplexity_equal_to_vocabulary_size():
    lm = _lm()
    with torch.no_grad():
        lm.decoder.weight.zero_()
        lm.decoder.bias.zero_()
    ids = torch.randint(0, 17, (3, 9))
    loss, _ = lm.loss(ids[:, :-1], ids[:, 1:])
    assert math.isclose(loss.item(), math.log(17), rel_tol=1e-6)
    assert math.isclose(math.exp(loss.item()), 17.0, rel_tol=1e-6)


def test_logits_equal_embedding_recurrent_decoder_composition():
    lm = _lm(layers=2, cell="gru")
    ids = torch.randint(0, 17, (2, 7))
    h, _ = lm.rnn(lm.embedding(ids))
    assert torch.allclose(lm(ids)[0], F.linear(h, lm.decoder.weight, lm.decoder.bias), atol=1e-6)


def test_step_and_prime_agree_with_forward():
    lm = _lm()
    ids = torch.randint(0, 17, (2, 6))
    full, _ = lm(ids)
    last, state = lm.prime(ids[:, :3], None)
    assert torch.allclose(last, full[:, 2], atol=1e-6)
    for t in range(3, 6):
        last, state = lm.step(ids[:, t], state)
        assert torch.allclose(last, full[:, t], atol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="vocab_size"):
        RNNLanguageModel(1)
    with pytest.raises(ValueError, match="model.cell"):
        RNNLMConfig(cell="nope")
    with pytest.raises(ValueError, match="integer token ids"):
        _lm()(torch.randn(2, 3))
