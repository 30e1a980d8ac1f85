"""Synthetic tasks: generator statistics, layouts, baselines and errors."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from unrolled.data.synthetic import SYNTHETIC_TASKS, embedded_reber_string, get_task, pixel_permutation
from unrolled.data.synthetic.reber import SYMBOLS


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_adding_targets_are_the_marked_sums_with_triangular_distribution():
    x, y = get_task("adding").batch(20000, 30, gen())
    marks = x[..., 1]
    assert torch.equal(marks.sum(1), torch.full((20000,), 2.0))
    assert torch.all(marks[:, :15].sum(1) == 1) and torch.all(marks[:, 15:].sum(1) == 1)
    assert torch.allclose(y.squeeze(1), (x[..., 0] * marks).sum(1))
    # sum of two U(0,1): mean 1, variance 1/6, P(y < 0.5) = 0.5^2 / 2 = 0.125
    assert abs(float(y.mean()) - 1.0) < 0.01
    assert abs(float(((y - 1) ** 2).mean()) - 1 / 6) < 0.005  # the chance MSE of predicting 1
    assert abs(float((y < 0.5).float().mean()) - 0.125) < 0.01
    assert get_task("adding").baseline(30) == pytest.approx(1 / 6)


def test_same_seed_same_batch_other_seed_other_batch():
    for name, task in SYNTHETIC_TASKS.items():
        T = 64 if "digits" in name else 12
        a, b, c = task.batch(5, T, gen(1)), task.batch(5, T, gen(1)), task.batch(5, T, gen(2))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert not torch.equal(a[0], c[0]), name


def test_copy_memory_layout_and_baseline():
    T = 7
    task = get_task("copy")
    x, y = task.batch(50, T, gen())
    sym = x.argmax(-1)  # (B, T + 20)
    assert x.shape == (50, T + 20, 10) and torch.equal(x.sum(-1), torch.ones(50, T + 20))
    assert torch.all((sym[:, :10] >= 1) & (sym[:, :10] <= 8))
    assert torch.all(sym[:, 10 : T + 9] == 0) and torch.all(sym[:, T + 9] == 9) and torch.all(sym[:, T + 10 :] == 0)
    assert torch.all(y[:, : T + 10] == 0) and torch.equal(y[:, T + 10 :], sym[:, :10])
    # the predictor "blank for T + 10 steps, then uniform over the 8 symbols" scores exactly the baseline
    logits = torch.full((50, T + 20, 9), -1e9)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10 :, 1:] = 0.0
    ce = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    assert float(ce) == pytest.approx(task.baseline(T), rel=1e-6)
    assert task.baseline(T) == pytest.approx(10 * math.log(8) / (T + 20))


def test_xor_and_parity_targets():
    x, y = get_task("xor").batch(4000, 20, gen())
    bits, marks = x[..., 0].long(), x[..., 1].long()
    assert torch.all(marks.sum(1) == 2)
    first = marks[:, :10].argmax(1)
    second = 10 + marks[:, 10:].argmax(1)
    rows = torch.arange(4000)
    assert torch.equal(y, bits[rows, first] ^ bits[rows, second])
    assert abs(float(y.float().mean()) - 0.5) < 0.03
    x, y = get_task("parity").batch(100, 9, gen())
    assert torch.equal(y, x[..., 0].long().sum(1) % 2)


# the embedded Reber grammar as a regular expression, written independently of the generator's graph
_L4 = "(?:XT*VP)*(?:S|XT*VV)"
_REBER = f"B(?:TS*X{_L4}|PT*V(?:V|P{_L4}))E"
_EMBEDDED = re.compile(f"^B(?:T{_REBER}T|P{_REBER}P)E$")


def test_reber_strings_are_accepted_by_the_grammar():
    g = gen(3)
    strings = [embedded_reber_string(g) for _ in range(500)]
    assert all(_EMBEDDED.match(s) for s in strings)
    assert {s[1] for s in strings} == {"T", "P"}
    assert not _EMBEDDED.match("BTBTXSEPE") and _EMBEDDED.match("BTBTXSETE")  # the acceptor can fail


def test_reber_batch_encodes_the_string_and_the_penultimate_symbol():
    x, y = get_task("reber").batch(200, 25, gen())
    for b in range(200):
        rows = x[b][x[b].sum(1) > 0]
        seen = "".join(SYMBOLS[i] for i in rows.argmax(1).tolist())
        assert x[b, -1].sum() == 1  # right-aligned: the last step is the last symbol seen
        assert _EMBEDDED.match(seen + "TP"[int(y[b])] + "E")
        assert seen[1] == "TP"[int(y[b])]


def test_digits_rows_pixels_and_permutation():
    from sklearn.datasets import load_digits

    data = load_digits()
    rows, labels = get_task("digits").batch(6, 8, gen(4))
    pixels, labels2 = get_task("digits").batch(6, 64, gen(4))
    perm, labels3 = get_task("digits_permuted").batch(6, 64, gen(4))
    assert rows.shape == (6, 8, 8) and pixels.shape == (6, 64, 1)
    assert torch.equal(rows.reshape(6, 64), pixels.reshape(6, 64)) and torch.equal(labels, labels2)
    assert torch.equal(perm.reshape(6, 64), pixels.reshape(6, 64)[:, pixel_permutation()])
    assert torch.equal(labels, labels3)
    flat = torch.tensor(data.data, dtype=torch.float32) / 16
    idx = [int((flat == pixels[i, :, 0]).all(1).nonzero()[0]) for i in range(6)]
    assert [int(data.target[i]) for i in idx] == labels.tolist()
    test_x, test_y = get_task("digits").batch(5, 64, gen(), split="test")
    assert torch.equal(test_y, torch.tensor(data.target[1500:1505]))


def test_bad_names_and_lengths_give_one_line_errors():
    with pytest.raises(ValueError, match="unknown synthetic task 'nope'") as e:
        get_task("nope")
    assert "\n" not in str(e.value)
    for name, bad in (("adding", 1), ("adding", "10"), ("copy", 0), ("reber", 5), ("digits", 10), ("xor", True)):
        with pytest.raises(ValueError, match="expected a length") as e:
            get_task(name).batch(2, bad, gen())
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="batch size"):
        get_task("adding").batch(0, 10, gen())


def test_repeat_copy_layout_statistics_and_baseline():
    T, R, B = 4, 3, 3000
    task = get_task("repeat_copy")
    x, y = task.batch(B, T, gen())
    L = (R + 1) * T + 2
    assert x.shape == (B, L, 11) and y.shape == (B, L) and task.sequence_length(T) == L
    sym, rep = x[..., :10].argmax(-1), x[..., 10]  # (B, L) symbols, the repeat channel
    assert torch.equal(x[..., :10].sum(-1), torch.ones(B, L))
    assert torch.all((sym[:, :T] >= 1) & (sym[:, :T] <= 8)) and torch.all(sym[:, T] == 9)
    assert torch.all(sym[:, T + 1 :] == 0) and torch.all(rep[:, :T] == 0) and torch.all(rep[:, T + 1 :] == 0)
    k = torch.round(rep[:, T] * R).long()  # K per sequence
    assert set(k.tolist()) == {1, 2, 3} and abs(float(k.float().mean()) - 2.0) < 0.05  # K ~ U{1..3}
    for b in range(20):
        kb = int(k[b])
        want = [0] * (T + 1) + sym[b, :T].tolist() * kb + [9] + [0] * (L - (T + 2 + kb * T))
        assert y[b].tolist() == want
    counts = torch.bincount(sym[:, :T].flatten(), minlength=9)[1:].float()
    assert float((counts / counts.sum() - 1 / 8).abs().max()) < 0.01  # symbols uniform over 1..8
    # knowing the layout and K but guessing the symbols uniformly scores the baseline on average
    logits = torch.full((B, L, 10), -1e9)
    logits.scatter_(-1, y.unsqueeze(-1), 0.0)
    copied = (torch.arange(L) > T) & (y >= 1) & (y <= 8)
    logits[copied] = torch.cat([torch.full((1,), -1e9), torch.zeros(8), torch.full((1,), -1e9)])
    ce = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    assert float(ce) == pytest.approx(float(k.float().mean()) * T * math.log(8) / L, rel=1e-5)
    assert task.baseline(T) == pytest.approx(2 * T * math.log(8) / L)
    assert abs(float(ce) - task.baseline(T)) < 0.03 * task.baseline(T)
