"""Dropout, which torch cannot match draw for draw: statistical checks with a stated false-failure probability.

The number of dropped elements among n is Binomial(n, p). A check fails when it lies more than Z standard
deviations from n * p; with Z = 5 the two-sided false-failure probability is below 6e-7 per check (normal
approximation, n * p * (1 - p) >= 900 here), so a correct Dropout fails about once in two million runs.
"""

from typing import Any

import numpy as np

from nn_harness.cases import strategies as s
from nn_harness.cases.registry import Tolerance
from nn_harness.cases.returned import strict_array
from nn_harness.checks.compare import CheckFailure, assert_close
from nn_harness.sandbox.student import call, method

Z = 5.0
SHAPE = (100, 200)  # 20,000 elements
# The rates each property is checked at, in one check: a bug that breaks the property at every rate (survivors not
# scaled) is one failure naming the first rate it shows at, not one per rate.
RATES = (0.1, 0.5, 0.9)


def _dropout(impl: Any, p: float, mode: str = "train") -> Any:
    layer = call(f"constructing Dropout(p={p})", impl.Dropout, p)
    call(f"Dropout.{mode}()", method(layer, mode, "Dropout"))
    return layer


def _forward(layer: Any, x: np.ndarray) -> np.ndarray:
    # On a copy: a forward that masks its input in place is test_inputs_not_modified's to report, not a wrong
    # ratio of output to input here.
    out = call("Dropout.forward", method(layer, "forward", "Dropout"), x.copy())
    return strict_array(out, what="output", shape=x.shape, dtype=x.dtype)


def _input(seed: int = 0) -> np.ndarray:
    return s.values(seed, SHAPE, away_from_zero=True)  # no zeros: a zero in the output means "dropped"


def fraction_dropped_matches_p(impl: Any, rates: tuple[float, ...] = RATES) -> None:
    x = _input()
    for p in rates:
        dropped = int(np.sum(_forward(_dropout(impl, p), x) == 0))
        n = x.size
        sd = np.sqrt(n * p * (1 - p))
        if abs(dropped - n * p) > Z * sd:
            raise CheckFailure(f"Dropout(p={p}) dropped {dropped} of {n} elements ({dropped / n:.4f});"
                               f" expected {n * p:.0f} +- {Z * sd:.0f} ({Z:g} standard deviations):"
                               " each element must be zeroed with probability p")


def survivors_scaled(impl: Any, rates: tuple[float, ...] = RATES) -> None:
    x = _input()
    for p in rates:
        out = _forward(_dropout(impl, p), x)
        kept = out != 0
        if not kept.any():
            raise CheckFailure(f"Dropout(p={p}) dropped every element of {x.size}")
        ratio = out[kept] / x[kept]
        assert_close(f"Dropout(p={p}): output / input for the kept elements (must be 1/(1-p) = {1 / (1 - p):.6g})",
                     ratio, np.full(ratio.shape, 1 / (1 - p)), Tolerance(1e-12, 0.0), factors={"1-p": 1 - p, "p": p})


def eval_is_identity(impl: Any, p: float) -> None:
    x = _input()
    assert_close("output in eval mode (must equal the input)", _forward(_dropout(impl, p, "eval"), x), x,
                 Tolerance(0.0, 0.0))


def backward_uses_forward_mask(impl: Any, rates: tuple[float, ...] = RATES) -> None:
    """grad_input = grad_output * (the scaled mask of the latest forward), even after an earlier forward."""
    x, g = _input(), s.values(2, SHAPE)
    for p in rates:
        layer = _dropout(impl, p)
        _forward(layer, _input(seed=1))  # an earlier mask, which must not be reused
        out = _forward(layer, x)
        grad_input = call("Dropout.backward", method(layer, "backward", "Dropout"), x.copy(), g.copy())  # as _forward
        assert_close(f"Dropout(p={p}): grad of input (must be grad_output times the latest forward's scaled mask)",
                     grad_input, g * (out / x), Tolerance(1e-12, 0.0))


def fresh_mask_each_forward(impl: Any, p: float) -> None:
    layer = _dropout(impl, p)
    x = _input()
    if np.array_equal(_forward(layer, x) == 0, _forward(layer, x) == 0):
        raise CheckFailure(f"Dropout(p={p}) dropped exactly the same {x.size} positions in two forward calls:"
                           " draw a new mask on every forward in training mode")
