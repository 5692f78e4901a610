"""Finite differences: right on known functions, and they catch a wrong gradient in both modes."""

import numpy as np
import pytest

from nn_harness.checks import finite_diff as fd
from nn_harness.checks.compare import CheckFailure
from nn_harness.sandbox import helpers, wire


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


# ------------------------------------------------------------- the calls' results, stacked on the wire (wire.py)

def test_calls_of_one_structure_go_as_stacked_arrays_and_come_back_as_they_were():
    rng = np.random.default_rng(0)
    calls = [(rng.standard_normal((2, 3)), [rng.standard_normal(4), np.array(float(k))]) for k in range(5)]
    sent = wire.stack_calls(calls)
    assert isinstance(sent, dict) and list(sent) == ["stacked"]  # three arrays, not fifteen
    back = wire.unstack_calls(sent, 5)
    assert [type(c) for c in back] == [tuple] * 5 and all(type(c[1]) is list for c in back)
    for got, made in zip(back, calls):
        np.testing.assert_array_equal(got[0], made[0])
        np.testing.assert_array_equal(got[1][0], made[1][0])
        assert isinstance(got[1][1], np.ndarray) and got[1][1].shape == ()  # a 0-d output stays an array


@pytest.mark.parametrize("calls", [
    [np.zeros(2), np.zeros(3)],  # shapes differ
    [np.zeros(2), np.zeros(2, dtype=np.float32)],  # dtypes differ
    [np.zeros(2), [np.zeros(2)]],  # structures differ
    [1.0, 2.0],  # not arrays
    [],
])
def test_calls_that_differ_go_as_they_are(calls):
    assert wire.stack_calls(calls) is calls
    assert wire.unstack_calls(calls, len(calls)) is calls


@pytest.mark.parametrize("sent", [
    {"stacked": np.zeros((3, 2))},  # three calls' results for four calls
    {"stacked": ["tuple", [np.zeros((4, 2)), np.zeros((3, 2))]]},
    {"stacked": ["set", [np.zeros((4, 2))]]},
    {"stacked": np.zeros(())},
    {"stacked": np.zeros((4,)), "more": 1},
    "four",
])
def test_results_not_of_four_calls_are_refused(sent):
    with pytest.raises(wire.WireError):
        wire.unstack_calls(sent, 4)


def test_a_check_reads_results_it_cannot_unstack_as_its_failure():
    with pytest.raises(CheckFailure, match="Linear.forward: the results came back unreadable"):
        fd.each_call({"stacked": np.zeros((3, 2))}, 4, "Linear.forward")


# ------------------------------------------------------------- what a forward changed in its own arguments

def _moved(fn, x):
    return helpers.central_differences(fn, (x,), x, 1e-6)[4]


def test_a_forward_that_writes_into_its_input_is_caught_at_the_first_element_it_changed():
    def forward(x):
        out = x * 2
        x[1] += 1.0
        return out
    position, index, before, after, moved, sign = _moved(forward, np.array([0.5, -1.0, 2.0]))
    assert (position, index, moved, sign) == (0, 1, 0, 1) and after == pytest.approx(before + 1.0)


@pytest.mark.parametrize("rewrite", [
    lambda x: np.copyto(x, np.where(x == 0.0, -0.0, x)),  # -0.0 for 0.0: the same value
    lambda x: None,
])
def test_a_forward_that_leaves_its_input_equal_is_not_caught(rewrite):
    def forward(x):
        rewrite(x)
        return x * 2
    assert _moved(forward, np.array([0.0, np.nan, 1.0])) is None
