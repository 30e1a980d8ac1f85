"""Nearest neighbours by cosine: a hand-made matrix, exclusions, the group check, errors."""

from __future__ import annotations

import math

import pytest
import torch

from unrolled.analysis.neighbours import cosine_matrix, group_similarity, nearest_neighbours

TOKENS = ["<pad>", "<unk>", "cat", "dog", "car", "bus"]
M = torch.tensor([[0.0, 0.0], [1.0, 0.1], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.2]])


def test_neighbours_by_hand():
    got = nearest_neighbours(M, TOKENS, "cat", k=3, exclude={"<pad>", "<unk>"})
    assert [w for w, _ in got] == ["dog", "car", "bus"]
    assert got[0][1] == pytest.approx(1 / math.sqrt(2)) and got[1][1] == pytest.approx(0.0)
    assert got[2][1] == pytest.approx(-1 / math.sqrt(1.04))
    # without exclusions <unk> is the closest; the word itself never appears
    assert nearest_neighbours(M, TOKENS, "cat", k=1)[0][0] == "<unk>"
    assert "cat" not in [w for w, _ in nearest_neighbours(M, TOKENS, "cat", k=10)]
    assert len(nearest_neighbours(M, TOKENS, "cat", k=10)) == 5


def test_cosine_matrix_equals_pairwise_formula():
    torch.manual_seed(0)
    v = torch.randn(4, 3, dtype=torch.float64)
    want = torch.tensor([[float(a @ b / (a.norm() * b.norm())) for b in v] for a in v], dtype=torch.float64)
    assert torch.allclose(cosine_matrix(v), want)


def test_group_similarity():
    r = group_similarity(M, TOKENS, {"animals": ["cat", "dog"], "vehicles": ["car", "bus"]})
    within = (1 / math.sqrt(2) + 0.2 / math.sqrt(1.04)) / 2
    between = (0.0 + -1 / math.sqrt(1.04) + 1 / math.sqrt(2) + (-1 + 0.2) / (math.sqrt(2) * math.sqrt(1.04))) / 4
    assert r["within"] == pytest.approx(within) and r["between"] == pytest.approx(between)
    assert r["gap"] == pytest.approx(within - between)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: nearest_neighbours(M, TOKENS, "emu"), "'emu' is not in the vocabulary"),
        (lambda: nearest_neighbours(M, TOKENS, "cat", k=0), "k must be a positive integer"),
        (lambda: nearest_neighbours(M[0], TOKENS, "cat"), r"\(V, E\)"),
        (lambda: nearest_neighbours(M, TOKENS[:3], "cat"), "one token per matrix row"),
        (lambda: group_similarity(M, TOKENS, {"a": ["cat", "emu"], "b": ["car", "bus"]}), r"\['emu'\]"),
        (lambda: group_similarity(M, TOKENS, {"a": ["cat", "dog"]}), "at least two groups"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()
