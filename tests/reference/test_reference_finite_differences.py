"""Tests for unrolled.reference.finite_differences: known derivatives, x restored, errors."""

import numpy as np
import pytest

from unrolled.reference import numerical_gradient, relative_error


def test_cubic_matches_analytic_derivative():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda v: float(np.sum(v**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)


def test_quadratic_form_is_exact_up_to_rounding():
    # f(x) = xᵀ A x has ∇f = (A + Aᵀ) x, and central differences are exact for quadratics (no ε² term).
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    grad = numerical_gradient(lambda v: float(v @ A @ v), x, eps=1e-3)
    np.testing.assert_allclose(grad, (A + A.T) @ x, rtol=1e-9, atol=1e-10)


def test_x_is_restored_bit_for_bit_and_closures_see_the_perturbation():
    rng = np.random.default_rng(1)
    params = {"w": rng.standard_normal((3, 2))}
    before = params["w"].copy()
    # f ignores its argument and reads the array through a closure: the in-place perturbation must reach it.
    grad = numerical_gradient(lambda _: float(np.sum(np.sin(params["w"]))), params["w"])
    np.testing.assert_array_equal(params["w"], before)
    np.testing.assert_allclose(grad, np.cos(before), rtol=1e-8)


def test_non_contiguous_view_is_perturbed_in_place():
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    view = base[:, ::2]  # not contiguous
    grad = numerical_gradient(lambda v: float(np.sum(v**2)), view)
    np.testing.assert_allclose(grad, 2 * view, rtol=1e-8)
    np.testing.assert_array_equal(base, np.arange(12, dtype=np.float64).reshape(3, 4))


def test_numpy_scalar_and_zero_dim_results_are_accepted():
    x = np.array([2.0])
    assert numerical_gradient(lambda v: np.sum(v * 5.0), x)[0] == pytest.approx(5.0, rel=1e-9)
    assert numerical_gradient(lambda v: np.array(v[0] ** 2), x)[0] == pytest.approx(4.0, rel=1e-8)


def test_relative_error_values():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([-1.0, 0.0])) == 1.0
    # ‖(3, 4) - (3, 0)‖ / (5 + 3) = 4 / 8
    assert relative_error(np.array([3.0, 4.0]), np.array([3.0, 0.0])) == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.ones(3, dtype=np.float32), TypeError, r"x: expected a float64 numpy array .*got float32"),
        ([1.0, 2.0], TypeError, r"x: expected a float64 numpy array .*got list"),
    ],
)
def test_rejects_inputs_that_cannot_be_perturbed(x, error, match):
    with pytest.raises(error, match=match):
        numerical_gradient(lambda v: 0.0, x)


def test_rejects_read_only_array():
    x = np.ones(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match=r"x: expected a writeable array"):
        numerical_gradient(lambda v: 0.0, x)


@pytest.mark.parametrize("eps", [0.0, -1e-6, float("nan"), float("inf")])
def test_rejects_bad_step(eps):
    with pytest.raises(ValueError, match=r"eps: expected a finite step > 0, got"):
        numerical_gradient(lambda v: 0.0, np.ones(2), eps=eps)


@pytest.mark.parametrize("result", [np.ones(2), "1.0", 1j, None])
def test_rejects_non_scalar_function_values(result):
    x = np.ones(2)
    with pytest.raises(ValueError, match=r"f: expected f\(x\) to return a real scalar"):
        numerical_gradient(lambda v: result, x)
    np.testing.assert_array_equal(x, np.ones(2))


def test_relative_error_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"b: expected the shape of a \(2,\), got \(3,\)"):
        relative_error(np.ones(2), np.ones(3))
