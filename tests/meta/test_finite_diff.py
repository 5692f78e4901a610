"""Finite differences: right on known functions, and they catch a wrong gradient in both modes."""

import numpy as np
import pytest

from nn_harness.checks import finite_diff as fd
from nn_harness.checks.compare import CheckFailure


def test_numerical_jacobian_of_a_linear_map_is_the_matrix():
    a = np.random.default_rng(0).standard_normal((3, 4))
    x = np.random.default_rng(1).standard_normal(4)
    before = x.copy()
    jacobian, modified = fd.numerical_jacobian(lambda: a @ x, (), x)
    np.testing.assert_allclose(jacobian, a, atol=1e-8)
    np.testing.assert_array_equal(x, before)  # restored after perturbing
    assert modified is None


def test_numerical_directional_of_a_quadratic():
    x = np.array([1.0, -2.0, 3.0])
    u, v = np.array([0.5, 1.0, -1.0]), np.array([2.0])
    # f = [sum(x^2)], so v . J u = 2 * v * (2 x . u)
    derivative, direction = fd.numerical_directional(lambda: np.array([np.sum(x**2)]), x, u, v)
    assert derivative == pytest.approx(2 * 2 * x @ u)
    np.testing.assert_allclose(direction, u)


def test_float32_steps_are_read_back():
    """A float32 parameter cannot hold x + 1e-6 exactly; the quotient must use the step actually stored."""
    w = np.array([1.3, -0.7], dtype=np.float32)
    jacobian, _ = fd.numerical_jacobian(lambda: 3.0 * w.astype(np.float64), (), w)
    np.testing.assert_allclose(jacobian, 3.0 * np.eye(2), rtol=1e-9)


def test_full_mode_reports_the_worst_entry():
    numerical = np.eye(2)
    analytical = np.eye(2)
    analytical[1, 0] = 0.5
    with pytest.raises(CheckFailure, match=r"1 / 4 entries mismatched[\s\S]*d output\(1,\) / d input\(0,\)"):
        fd.assert_jacobians_close("grad of input", analytical, numerical, (2,), (2,))


def test_fast_mode_catches_a_wrong_direction():
    with pytest.raises(CheckFailure, match="direction 2 of 2"):
        fd.assert_directional_close("grad of weight", [1.0, 2.0], [1.0, 2.5])


def test_agreement_passes():
    fd.assert_jacobians_close("grad of input", np.eye(3), np.eye(3) + 1e-9, (3,), (3,))
    fd.assert_directional_close("grad of input", [1.0], [1.0 + 1e-9])
