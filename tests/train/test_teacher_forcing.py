"""The teacher-forcing probability follows each schedule (Bengio et al. 2015)."""

import math

import pytest

from unrolled.train.teacher_forcing import TEACHER_FORCING_SCHEDULES, build_teacher_forcing


def test_constant():
    assert [build_teacher_forcing("constant", start=0.3)(i) for i in (0, 5, 1000)] == [0.3, 0.3, 0.3]
    assert build_teacher_forcing()(7) == 1.0


def test_linear():
    s = build_teacher_forcing("linear", start=1.0, slope=0.25, floor=0.1)
    assert [s(i) for i in range(6)] == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.1, 0.1])


def test_exponential():
    s = build_teacher_forcing("exponential", k=0.5, floor=0.05)
    assert [s(i) for i in range(6)] == pytest.approx([1.0, 0.5, 0.25, 0.125, 0.0625, 0.05])


def test_inverse_sigmoid():
    s = build_teacher_forcing("inverse_sigmoid", k=5.0)
    assert [s(i) for i in (0, 5, 20)] == pytest.approx([5 / (5 + 1), 5 / (5 + math.e), 5 / (5 + math.exp(4))])
    assert s(10**6) == 0.0
    vals = [s(i) for i in range(50)]
    assert all(a > b for a, b in zip(vals, vals[1:]))


def test_registry_and_errors():
    assert set(TEACHER_FORCING_SCHEDULES) == {"constant", "linear", "exponential", "inverse_sigmoid"}
    with pytest.raises(ValueError, match="must be one of"):
        build_teacher_forcing("cosine")
    with pytest.raises(ValueError, match=r"k must be a number in \(0.0, 1.0\]"):
        build_teacher_forcing("exponential", k=1.5)
    with pytest.raises(ValueError, match=r"k must be a number in \[1.0"):
        build_teacher_forcing("inverse_sigmoid", k=0.5)
    with pytest.raises(ValueError, match="takes"):
        build_teacher_forcing("linear", k=2)
    with pytest.raises(ValueError, match="step must be an integer >= 0"):
        build_teacher_forcing("linear")(-1)
