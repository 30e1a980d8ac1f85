"""The language model's output layers: full and adaptive softmax give normalised distributions, and the targets'
log-probabilities are read off those distributions."""

import pytest
import torch

from unrolled.layers.softmax_output import SOFTMAXES, AdaptiveSoftmax, FullSoftmax, default_cutoffs


@pytest.mark.parametrize("name", ["full", "adaptive"])
def test_log_prob_is_a_distribution_and_targets_read_it(name):
    torch.manual_seed(0)
    out = SOFTMAXES[name].build(12, 30, (5, 17), 2.0).double()
    h = torch.randn(7, 12, dtype=torch.float64)
    targets = torch.tensor([0, 4, 5, 16, 17, 29, 3])  # head, both tail clusters, both ends of each
    logp = out.log_prob(h)  # (7, 30)
    torch.testing.assert_close(logp.exp().sum(-1), torch.ones(7, dtype=torch.float64))
    torch.testing.assert_close(out.target_log_prob(h, targets), logp.gather(1, targets[:, None])[:, 0])
    scores = out.scores(h)
    torch.testing.assert_close(scores.log_softmax(-1), logp)  # logits (full) or log-probabilities (adaptive)


def test_adaptive_is_the_head_times_the_cluster_by_hand():
    torch.manual_seed(1)
    out = AdaptiveSoftmax.build(8, 20, (6, 12), 2.0).double()
    h = torch.randn(2, 8, dtype=torch.float64)
    head = torch.log_softmax(out.head(h), -1)  # (2, 6 + 2): shortlist, then one entry per cluster
    tail0 = torch.log_softmax(out.tail[0](h), -1)  # (2, 6): words 6..11, from D / 2 = 4 units
    tail1 = torch.log_softmax(out.tail[1](h), -1)  # (2, 8): words 12..19, from D / 4 = 2 units
    expected = torch.cat([head[:, :6], head[:, 6:7] + tail0, head[:, 7:8] + tail1], dim=1)
    torch.testing.assert_close(out.log_prob(h), expected)
    assert out.tail[0][0].out_features == 4 and out.tail[1][0].out_features == 2
    assert out.head.bias is not None


def test_full_softmax_keeps_linear_names_and_defaults():
    assert set(FullSoftmax.build(4, 9, (), 4.0).state_dict()) == {"weight", "bias"}
    assert default_cutoffs(10_000) == (2000, 5000) and default_cutoffs(3) == (1,)
