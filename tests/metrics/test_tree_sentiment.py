"""Fine-grained and binary sentiment accuracy against hand counts."""

import pytest
import torch

from unrolled.metrics.tree_sentiment import binary_counts, fine_grained_counts, sentiment_accuracies, split_classes


def test_counts_by_hand():
    p = torch.tensor(
        [
            [0.5, 0.1, 0.2, 0.1, 0.1],  # argmax 0; neg 0.6 vs pos 0.2 -> negative
            [0.1, 0.2, 0.6, 0.05, 0.05],  # argmax 2; neg 0.3 vs pos 0.1 -> negative
            [0.0, 0.3, 0.3, 0.4, 0.0],  # argmax 3; pos 0.4 > neg 0.3 -> positive
            [0.1, 0.2, 0.4, 0.0, 0.3],  # argmax 2; positive
        ]
    )
    gold = torch.tensor([0, 3, 2, 4])
    logits = p.clamp_min(1e-9).log()
    assert fine_grained_counts(logits, gold) == (1, 4)
    assert binary_counts(logits, gold) == (2, 3)  # node 2 is neutral; node 1 wrong, 0 and 3 right
    acc = sentiment_accuracies(logits, gold, torch.tensor([0, 2]))
    assert acc["root_fine"] == 0.5 and acc["root_binary"] == 1.0
    assert acc["all_fine"] == 0.25 and acc["all_binary"] == pytest.approx(2 / 3)


def test_split_classes_and_errors():
    assert split_classes(5) == ([0, 1], [3, 4])
    assert split_classes(2) == ([0], [1])
    assert split_classes(4) == ([0, 1], [2, 3])
    with pytest.raises(ValueError, match="expected logits \\(n, C\\) and gold \\(n,\\)"):
        fine_grained_counts(torch.zeros(3, 5), torch.zeros(2, dtype=torch.long))
    assert binary_counts(torch.zeros(2, 5), torch.tensor([2, 2])) == (0, 0)
