"""The comparison helpers: strict about shape, dtype and type; precise about where and by how much; hints that fit."""

import numpy as np
import pytest

from nn_harness.cases.registry import Tolerance
from nn_harness.cases.returned import strict_array, strict_float
from nn_harness.checks.compare import CheckFailure, assert_close, compare

TOL = Tolerance(rtol=1e-6, atol=1e-9)
expected = np.arange(1.0, 7.0).reshape(2, 3)


def test_identical_arrays_pass():
    assert compare("output", expected.copy(), expected, TOL).passed


def test_broadcastable_wrong_shape_fails_before_values():
    with pytest.raises(CheckFailure, match=r"expected shape \(2, 3\), got shape \(3,\)"):
        assert_close("output", expected[0], expected, TOL)


def test_extra_batch_axis_gets_a_hint():
    with pytest.raises(CheckFailure, match="summed over the batch of 4"):
        assert_close("grad of bias", np.ones((4, 3)), np.ones(3), TOL)


def test_transposed_shape_gets_a_hint():
    with pytest.raises(CheckFailure, match="transpose"):
        assert_close("grad of weight", expected.T.copy(), expected, TOL)


def test_wrong_dtype_fails():
    with pytest.raises(CheckFailure, match="expected dtype float32, got dtype float64"):
        assert_close("output", expected, expected, TOL, dtype=np.float32)


class ArrayLookalike:
    """Claims to be any array and to equal everything."""

    shape = (2, 3)
    dtype = np.dtype(np.float64)

    def __array__(self, dtype=None, copy=None):
        return expected.copy()

    def __eq__(self, other):
        return True


@pytest.mark.parametrize("fake", [ArrayLookalike(), expected.tolist(), None], ids=["lookalike", "list", "None"])
def test_non_arrays_fail(fake):
    with pytest.raises(CheckFailure, match="expected a numpy.ndarray"):
        assert_close("output", fake, expected, TOL)


class Agreeable(np.ndarray):
    """An ndarray subclass whose arithmetic always claims a perfect match."""

    def __sub__(self, other):
        return np.zeros(self.shape)

    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)


def test_ndarray_subclass_is_judged_by_its_data():
    wrong = np.zeros((2, 3)).view(Agreeable)
    assert not compare("output", wrong, expected, TOL).passed


def test_report_names_the_worst_element():
    got = expected.copy()
    got[1, 2] += 0.5
    got[0, 0] += 1e-3
    result = compare("grad of input", got, expected, TOL)
    assert (result.mismatched, result.total, result.worst_index) == (2, 6, (1, 2))
    assert result.expected_at_worst == 6.0 and result.got_at_worst == 6.5
    assert "2 / 6 elements mismatched" in result.message()
    assert "at index (1, 2) (expected 6, got 6.5)" in result.message()


def test_nan_is_a_mismatch_with_an_overflow_hint():
    got = expected.copy()
    got[0, 1] = np.nan
    result = compare("output", got, expected, TOL)
    assert result.worst_index == (0, 1) and "NaN" in result.hint


@pytest.mark.parametrize(("factor", "name"), [(4.0, "the batch size"), (0.25, "1/(the batch size)"),
                                              (-1.0, "sign is flipped"), (2.0, "= 2")])
def test_constant_factor_is_named(factor, name):
    result = compare("grad of weight", factor * expected, expected, TOL, factors={"the batch size": 4.0})
    assert name in result.hint


def test_unnamed_constant_factor_is_still_reported():
    assert "0.37" in compare("output", 0.37 * expected, expected, TOL).hint


def test_all_zeros_gets_a_hint():
    assert "all zeros" in compare("grad of weight", np.zeros((2, 3)), expected, TOL).hint


def test_square_transpose_gets_a_hint():
    square = np.arange(9.0).reshape(3, 3)
    assert "transpose" in compare("grad of weight", square.T.copy(), square, TOL).hint


def test_unrelated_values_get_no_hint():
    assert compare("output", expected[::-1, ::-1].copy(), expected, TOL).hint is None


def test_strict_array_returns_a_plain_copy():
    original = expected.copy()
    result = strict_array(original, what="output", shape=(2, 3), dtype=np.float64)
    assert type(result) is np.ndarray and result is not original


@pytest.mark.parametrize("value", [1.5, np.float32(1.5), np.array(1.5), np.array([1.5])])
def test_strict_float_accepts_real_scalars(value):
    assert strict_float(value, what="loss") == 1.5


@pytest.mark.parametrize("value", [None, "1.5", [1.5], np.ones(2), True])
def test_strict_float_rejects_the_rest(value):
    with pytest.raises(CheckFailure, match="expected a float"):
        strict_float(value, what="loss")
