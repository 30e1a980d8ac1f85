"""When the Triton path runs (:func:`triton_runs`): only on CUDA, with Triton installed, for covered cells whose
weights fit on chip, in float32, outside autocast. Needs no GPU and no Triton (it only asks)."""

from __future__ import annotations

import pytest
import torch

from unrolled.cells.elman import ElmanCell
from unrolled.cells.gru import GRUCell
from unrolled.cells.jordan import JordanCell
from unrolled.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from unrolled.cells.leaky import LeakyCell
from unrolled.cells.lstm import LSTMCell
from unrolled.layers.triton import routing, triton_runs


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(routing, "triton_installed", lambda: True)


def test_covered_cells_run_on_cuda_only(installed):
    for cell in (
        ElmanCell(3, 64),
        ElmanCell(3, 8, "relu"),
        LeakyCell(3, 8, learn_tau=True),
        GRUCell(3, 64, reset="before"),
        LayerNormLSTMCell(3, 64),
        LayerNormGRUCell(3, 64),
        LayerNormGRUCell(3, 64, reset="before"),
        LSTMCell(3, 64, peephole=True),
    ):
        assert triton_runs(cell, "cuda")
        assert not triton_runs(cell, "cpu")


def test_the_rest_stays_on_the_scan_path(installed):
    for cell in (
        ElmanCell(3, 65),  # W no longer fits on chip (BLOCK_H = 128); the streamed kernel is not routed
        LeakyCell(3, 65),
        GRUCell(3, 65, reset="before"),
        GRUCell(3, 8, reset="after"),
        LayerNormLSTMCell(3, 65),
        LayerNormGRUCell(3, 65),
        LSTMCell(3, 8),  # plain: cuDNN's
        LSTMCell(3, 8, peephole=True, proj_size=4),
        JordanCell(3, 8, 2),
        ElmanCell(3, 8).double(),
    ):
        assert not triton_runs(cell, torch.device("cuda"))


def test_nothing_runs_without_triton(monkeypatch):
    monkeypatch.setattr(routing, "triton_installed", lambda: False)
    assert not triton_runs(ElmanCell(3, 8), "cuda")
