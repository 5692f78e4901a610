"""Strict comparison of a result against the truth, with a message a person can act on.

Shape first, then dtype, then finiteness, then values (as tinygrad's helper_test_op and
torch.testing.assert_close do): `np.allclose` broadcasting must never let a wrongly shaped result pass, and an
object that merely pretends to be an array must not pass either.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np

from nn_harness.cases.registry import Tolerance
from nn_harness.cases.returned import strict_array
from nn_harness.sandbox.student import CheckFailure

# The same quantity on another, larger input, where the hint factors (batch size, number of elements, ...) differ
# from this input's and from each other: what the result is (got), what it should be (expected), and the factors
# there. Called only when a hint is in doubt (several factors fit, or an all-zeros result), so it costs nothing on
# a pass.
Recheck = Callable[[], tuple[object, np.ndarray, Mapping[str, float]]]


@dataclass(frozen=True)
class Mismatch:
    """A failed comparison's arrays (float64), for the visual report's pictures (--html: nn_harness/report/evidence.py)."""

    what: str
    expected: np.ndarray
    got: np.ndarray
    worst_index: tuple[int, ...]
    message: str


# The latest failed comparison of this process. The checks turn a CheckFailure into a text report (pytest.fail), so
# its arrays are kept here for the report's hook, which takes them at the end of the check (`take_mismatch`) and
# keeps them only when the check's message is this comparison's: hypothesis replays the shrunk failing case last.
_latest: list[Mismatch] = []


def remember(mismatch: Mismatch) -> None:
    """Keep a failed comparison (about to be raised as a CheckFailure with its message) for the report."""
    _latest[:] = [mismatch]


def take_mismatch() -> Mismatch | None:
    """The latest failed comparison since the last call, forgotten once taken."""
    found = _latest[-1] if _latest else None
    _latest.clear()
    return found


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one quantity (an output, a gradient) with its expected value."""

    what: str
    total: int
    mismatched: int
    max_abs: float
    max_rel: float
    worst_index: tuple[int, ...]
    expected_at_worst: float
    got_at_worst: float
    tolerance: Tolerance
    hint: str | None = None

    @property
    def passed(self) -> bool:
        return self.mismatched == 0

    def message(self) -> str:
        pct = 100.0 * self.mismatched / max(self.total, 1)
        lines = [
            f"{self.what} differs: {self.mismatched} / {self.total} elements mismatched ({pct:.1f}%)",
            f"  greatest absolute difference: {self.max_abs:.6g} at index {self.worst_index}"
            f" (expected {self.expected_at_worst:.6g}, got {self.got_at_worst:.6g})",
            f"  greatest relative difference: {self.max_rel:.6g}",
            f"  tolerance: {self.tolerance}",
        ]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


def compare(
    what: str,
    got: object,
    expected: np.ndarray,
    tolerance: Tolerance,
    *,
    dtype: np.dtype | type | None = None,
    factors: Mapping[str, float] | None = None,
    recheck: Recheck | None = None,
) -> Comparison:
    """Compare `got` with `expected` strictly; `factors` names constants a known mistake would be off by, `recheck`
    tells them apart when they coincide on this input."""
    expected = np.asarray(expected, dtype=np.float64)
    arr = strict_array(got, what=what, shape=expected.shape, dtype=dtype or expected.dtype).astype(np.float64)
    total = int(expected.size)
    if total == 0:
        return Comparison(what, 0, 0, 0.0, 0.0, (), 0.0, 0.0, tolerance)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(arr - expected)
        allowed = tolerance.atol + tolerance.rtol * np.abs(expected)
        bad = ~(diff <= allowed)  # NaN counts as a mismatch
        rel = diff / np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
        # The worst element is the one furthest past its tolerance (NaN first).
        excess = np.where(np.isnan(diff), np.inf, np.where(diff == 0, 0.0, diff / allowed))
    worst = np.unravel_index(int(np.argmax(excess)), expected.shape)
    mismatched = int(bad.sum())
    hint = _value_hint(arr, expected, tolerance, factors or {}, recheck) if mismatched else None
    return Comparison(
        what=what,
        total=total,
        mismatched=mismatched,
        max_abs=float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))),
        max_rel=float(np.nanmax(np.where(np.isnan(rel), np.inf, rel))),
        worst_index=tuple(int(i) for i in worst),
        expected_at_worst=float(expected[worst]),
        got_at_worst=float(arr[worst]),
        tolerance=tolerance,
        hint=hint,
    )


def assert_close(
    what: str,
    got: object,
    expected: np.ndarray,
    tolerance: Tolerance,
    *,
    dtype: np.dtype | type | None = None,
    factors: Mapping[str, float] | None = None,
    mistakes: Callable[[], Mapping[str, np.ndarray]] | None = None,
    recheck: Recheck | None = None,
) -> None:
    """`compare`, raising CheckFailure with its message when anything is off.

    mistakes: computed only on failure, what known mistakes would have produced ({description: array}); when the
    result matches one, the hint names it (in place of any other hint).
    """
    result = compare(what, got, expected, tolerance, dtype=dtype, factors=factors, recheck=recheck)
    if result.passed:
        return
    if mistakes is not None:  # a named known mistake says more than a constant factor
        arr = np.asarray(got, dtype=np.float64)
        for description, value in mistakes().items():
            if value.shape == arr.shape and np.allclose(arr, value, tolerance.rtol, tolerance.atol):
                result = replace(result, hint=description)
                break
    remember(Mismatch(what, np.asarray(expected, dtype=np.float64), np.array(got, dtype=np.float64, subok=False),
                      result.worst_index, result.message()))
    raise CheckFailure(result.message())


def _value_hint(got: np.ndarray, expected: np.ndarray, tol: Tolerance, factors: Mapping[str, float],
                recheck: Recheck | None = None) -> str | None:
    """Name the known mistake the numbers fit, if one does; None when nothing fits."""
    if not np.all(np.isfinite(got)):
        where = "NaN" if np.any(np.isnan(got)) else "inf"
        return f"the result contains {where} where the expected values are finite: an overflow (exp of a large number?)"
    big = _clearly_nonzero(expected, tol)
    if not np.any(got) and big.any():
        return _zeros_hint(recheck)
    if got.ndim == 2 and got.shape[0] == got.shape[1] and np.allclose(got, expected.T, tol.rtol, tol.atol):
        return "the result equals the transpose of the expected value"
    ratio = _constant_ratio(got, expected, tol)
    if ratio is None:
        return None
    fits = _fits(ratio, factors)
    if len(fits) > 1:
        fits = _told_apart(fits, recheck, tol)
    return _factor_hint(ratio, fits, evidence=int(big.sum()))


def _clearly_nonzero(expected: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Where the expected value is far from zero on the tolerance's scale: a result of 0 or a ratio to it means
    something there, not where the expected value is itself (nearly) zero."""
    return np.abs(expected) > 1e3 * tol.atol + 1e-12


def _constant_ratio(got: np.ndarray, expected: np.ndarray, tol: Tolerance) -> float | None:
    """got / expected when it is the same nonzero number for every element (judged where expected is clearly
    nonzero), else None."""
    big = _clearly_nonzero(expected, tol)
    if not big.any():
        return None
    ratios = got[big] / expected[big]
    ratio = float(np.median(ratios))
    if ratio != 0 and np.allclose(ratios, ratio, rtol=1e-3, atol=0) and np.allclose(got, ratio * expected, 1e-3, tol.atol):
        return ratio
    return None


def _zeros_hint(recheck: Recheck | None) -> str:
    """An all-zeros result: never computed, unless the same code gives nonzero values on a larger input (then its
    formula merely vanishes on this one, e.g. softmax minus a one-hot target with a single class)."""
    again = _rechecked(recheck)
    if again is not None and np.any(again[0]):
        return ("the result is all zeros on this input but not on a larger one: it is computed, but its formula "
                "gives 0 here where the expected value does not")
    return "the result is all zeros: was it never computed, or reset after being computed?"


def _rechecked(recheck: Recheck | None) -> tuple[np.ndarray, np.ndarray, Mapping[str, float]] | None:
    """The recheck's (got, expected, factors), when there is one and it gave a real array of the expected shape;
    None otherwise (a result that fails there is the check's business, not the hint's)."""
    if recheck is None:
        return None
    try:
        got, expected, factors = recheck()
    except CheckFailure:
        return None
    expected = np.asarray(expected, dtype=np.float64)
    if not isinstance(got, np.ndarray) or got.shape != expected.shape or got.dtype.kind not in "fiu":
        return None
    return np.array(got, dtype=np.float64, subok=False), expected, factors


NAMED_FACTORS = {"-1 (the sign is flipped)": -1.0, "2 (as from the derivative of a square)": 2.0}


def _fits(ratio: float, factors: Mapping[str, float]) -> list[str]:
    """The known factors (and their reciprocals) equal to `ratio`, as the hint names them."""
    fits = []
    for name, value in {**factors, **NAMED_FACTORS}.items():
        for shown, candidate in ((name, value), (f"1/({name})", 1.0 / value if value else np.inf)):
            if candidate != 1.0 and np.isclose(ratio, candidate, rtol=1e-3) and shown not in fits:
                fits.append(shown)
    return fits


def _told_apart(fits: list[str], recheck: Recheck | None, tol: Tolerance) -> list[str]:
    """Of several factors that coincide on this input, those that still fit on the recheck's input (where they
    differ); all of them when there is no recheck, or when it keeps none (the factor is not constant there)."""
    again = _rechecked(recheck)
    ratio = _constant_ratio(again[0], again[1], tol) if again is not None else None
    kept = [name for name in fits if ratio is not None and name in _fits(ratio, again[2])]
    return kept or fits


def _factor_hint(ratio: float, fits: list[str], *, evidence: int) -> str | None:
    """A constant factor is worth naming when it is a known one, or when enough elements share it. Several known
    ones that coincide on this input are named as a coincidence: none of them is certain."""
    if len(fits) == 1:
        return f"every element is off by the same factor {ratio:.6g} = {fits[0]}"
    if fits:
        return (f"every element is off by the same factor {ratio:.6g}, which on this input is {', '.join(fits[:-1])} "
                f"and {fits[-1]} alike (they are equal here), so it cannot tell which")
    return f"every element is off by the same factor {ratio:.6g}" if evidence >= 3 else None
