import math

import pytest
import torch

from unrolled.decode import (
    PROCESSORS,
    Temperature,
    TopK,
    TopP,
    apply_processors,
    build_processors,
    get_strategy,
    greedy,
    sample,
)


def _kept(logits: torch.Tensor) -> list[list[int]]:
    return [torch.nonzero(torch.isfinite(row)).flatten().tolist() for row in logits]


def test_temperature_values_and_softmax_invariance():
    logits = torch.tensor([[1.0, 3.0, -2.0], [0.5, 0.5, 4.0]], dtype=torch.float64)
    out = Temperature(0.5)(logits)
    expected = torch.tensor([[-4.0, 0.0, -10.0], [-7.0, -7.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    torch.testing.assert_close(out.softmax(-1), (logits / 0.5).softmax(-1))


def test_temperature_tiny_stays_finite_and_one_hot():
    logits = torch.tensor([[1.0, 1.001, -2.0]])
    probs = Temperature(1e-30)(logits).softmax(-1)
    assert torch.equal(probs, torch.tensor([[0.0, 1.0, 0.0]]))


def test_top_k_keeps_exactly_the_k_best():
    logits = torch.tensor([[0.1, 2.0, -1.0, 3.0, 0.5], [5.0, 4.0, 3.0, 2.0, 1.0]])
    out = TopK(2)(logits)
    assert _kept(out) == [[1, 3], [0, 1]]
    assert torch.equal(out[0, [1, 3]], logits[0, [1, 3]])
    assert torch.equal(TopK(5)(logits), logits)
    assert torch.equal(TopK(50)(logits), logits)


def test_top_p_nucleus_sets():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    assert _kept(TopP(0.1)(logits)) == [[0]]  # the argmax is always kept
    assert _kept(TopP(0.75)(logits)) == [[0, 1]]
    assert _kept(TopP(0.85)(logits)) == [[0, 1, 2]]
    assert _kept(TopP(0.99)(logits)) == [[0, 1, 2, 3]]
    assert torch.equal(TopP(1.0)(logits), logits)


def test_top_p_unsorted_input_and_rows_independent():
    logits = torch.tensor([[0.05, 0.15, 0.5, 0.3], [0.9, 0.04, 0.03, 0.03]]).log()
    assert _kept(TopP(0.6)(logits)) == [[2, 3], [0]]


def test_top_p_tiny_keeps_argmax_even_with_ties_below():
    logits = torch.tensor([[0.0, 10.0, 0.0]])
    assert _kept(TopP(1e-9)(logits)) == [[1]]


def test_build_processors_order_temperature_before_top_p():
    logits = torch.tensor([[0.5, 0.3, 0.2]]).log()
    # at T=1 the 0.7 nucleus holds two tokens; at T=0.1 the top token alone carries > 0.99 of the mass
    assert _kept(apply_processors(logits, build_processors(top_p=0.7))) == [[0, 1]]
    procs = build_processors(temperature=0.1, top_k=2, top_p=0.7)
    assert [type(p) for p in procs] == [Temperature, TopK, TopP]
    assert _kept(apply_processors(logits, procs)) == [[0]]


def test_build_processors_skips_identities():
    assert build_processors() == []
    assert build_processors(temperature=1.0, top_p=1.0) == []
    assert set(PROCESSORS) == {"temperature", "top_k", "top_p"}


def test_greedy_and_sample_never_draw_masked():
    logits = torch.tensor([[0.0, -math.inf, 1.0, -math.inf]]).expand(2000, -1)
    assert torch.equal(greedy(logits), torch.full((2000,), 2))
    g = torch.Generator().manual_seed(0)
    draws = sample(logits, g)
    assert set(draws.tolist()) == {0, 2}


def test_sample_same_generator_seed_same_draws():
    logits = torch.zeros(50, 30)
    a = sample(logits, torch.Generator().manual_seed(3))
    b = sample(logits, torch.Generator().manual_seed(3))
    c = sample(logits, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_get_strategy():
    assert get_strategy("greedy") is greedy
    assert get_strategy("sample") is sample
    with pytest.raises(ValueError, match=r"expected strategy to be one of \['greedy', 'sample'\], got 'beam"):
        get_strategy("beam")


@pytest.mark.parametrize(
    ("factory", "value", "exc", "match"),
    [
        (Temperature, 0.0, ValueError, "expected 0 < temperature"),
        (Temperature, -1.0, ValueError, "expected 0 < temperature"),
        (Temperature, math.inf, ValueError, "expected 0 < temperature"),
        (Temperature, "1", TypeError, "expected temperature to be a float, got str"),
        (TopK, 0, ValueError, "expected top_k >= 1, got 0"),
        (TopK, 2.0, TypeError, "expected top_k to be an int, got float"),
        (TopK, True, TypeError, "expected top_k to be an int, got bool"),
        (TopP, 0.0, ValueError, r"expected 0 < top_p <= 1, got 0.0"),
        (TopP, 1.5, ValueError, r"expected 0 < top_p <= 1, got 1.5"),
        (TopP, None, TypeError, "expected top_p to be a float, got NoneType"),
    ],
)
def test_processor_errors(factory, value, exc, match):
    with pytest.raises(exc, match=match):
        factory(value)


def test_logits_errors():
    with pytest.raises(TypeError, match="expected logits to be a floating-point torch.Tensor"):
        TopK(1)(torch.tensor([[1, 2]]))
    with pytest.raises(TypeError, match="got list"):
        greedy([[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"with V >= 1, got shape \(2, 0\)"):
        TopP(0.5)(torch.zeros(2, 0))
    with pytest.raises(ValueError, match="expected every row of logits to have a finite score"):
        sample(torch.full((1, 3), -math.inf))


def test_suppress_masks_the_given_ids_and_ignores_ids_beyond_the_vocabulary():
    from unrolled.decode import Suppress

    out = Suppress([2, 0, 9])(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    assert out.tolist() == [[-math.inf, 2.0, -math.inf], [-math.inf, 5.0, -math.inf]]
    with pytest.raises(ValueError, match="expected suppress ids to be ints >= 0, got -1"):
        Suppress([-1])
