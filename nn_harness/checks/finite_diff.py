"""Central finite differences of a function of arrays that are perturbed in place (inputs or live parameters).

Two modes, as torch.autograd.gradcheck has: the full Jacobian for small tensors (every element of every
input against every output), and a fast mode for large ones that compares directional derivatives along
random directions u (input side) and v (output side): v^T J u, numerically and from one backward pass.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from nn_harness.cases.registry import Tolerance
from nn_harness.checks.compare import CheckFailure, Mismatch, remember
from nn_harness.sandbox import wire
from nn_harness.sandbox.client import beside, pipelined, resolved
from nn_harness.sandbox.student import call

EPS = 1e-6  # float64; values are kept at least 1e-3 from kinks and ties (nn_harness.cases.strategies.KINK_MARGIN)
TOLERANCE = Tolerance(rtol=1e-4, atol=1e-6)
FULL_LIMIT = 200  # tensors up to this many elements (inputs and outputs) get the full Jacobian
DIRECTIONS = 3  # random directions per tensor in fast mode


def numerical_jacobian(fn: Callable[..., Any], args: tuple, wrt: np.ndarray, eps: float = EPS,
                       result: Callable[[Any], np.ndarray] = np.asarray, what: str = "f",
                       argument_names: tuple[str, ...] = ("input", "target")) -> tuple[np.ndarray, str | None]:
    """d fn(*args) / d wrt as an (output size, wrt.size) matrix; `wrt` is perturbed in place and restored. With it,
    what fn changed in its own array arguments during those calls (None: nothing), for a failure to name: the
    differences of a function that moves its own input are not its derivative.

    The calls run beside `fn` (in its sandbox, all 2n of them in one request: nn_harness/sandbox/helpers.py);
    `result` turns each output into an array, or raises CheckFailure for what is not one; an exception from `fn`
    fails as `what` raising it. The step is the one
    actually stored (read back), so float32 parameters get a right difference quotient.
    """
    return jacobian_later(fn, args, wrt, eps, result, what, argument_names)()


def jacobian_later(fn: Callable[..., Any], args: tuple, wrt: np.ndarray, eps: float = EPS,
                   result: Callable[[Any], np.ndarray] = np.asarray, what: str = "f",
                   argument_names: tuple[str, ...] = ("input", "target")
                   ) -> Callable[[], tuple[np.ndarray, str | None]]:
    """numerical_jacobian, its calls sent with the sandbox's next request (promise pipelining): several tensors'
    differences and a backward go in one round trip. The function returned gives what numerical_jacobian does."""
    named = f"{what} (with one element moved by +-{eps:g})"
    differences = beside(fn, "helpers").central_differences
    with pipelined(fn, named):
        pending = call(named, differences, fn, args, wrt, eps)

    def jacobian() -> tuple[np.ndarray, str | None]:
        plus, minus, highs, lows, changed = resolved(pending)
        plus, minus = each_call(plus, wrt.size, named), each_call(minus, wrt.size, named)
        columns = [(np.asarray(result(p), dtype=np.float64).reshape(-1) -
                    np.asarray(result(m), dtype=np.float64).reshape(-1)) / (high - low)
                   for p, m, high, low in zip(plus, minus, highs, lows)]
        return np.stack(columns, axis=1), _modified(changed, args, wrt.shape, eps, what, argument_names)

    return jacobian


def each_call(results: Any, count: int, what: str) -> list:
    """What each of `count` calls made beside the submission returned (the helpers send them stacked:
    wire.stack_calls); results that are not theirs fail the check as `what`'s."""
    try:
        return wire.unstack_calls(results, count)
    except wire.WireError as error:
        raise CheckFailure(f"{what}: the results came back unreadable ({error})") from None


def _modified(changed: Any, args: tuple, wrt_shape: tuple, eps: float, what: str,
              argument_names: tuple[str, ...]) -> str | None:
    """The sandbox's note of the first change a call made to an array argument (helpers._changed), in words; None
    when there was none, or when the note is not the plain numbers it must be (it comes from the sandbox)."""
    if not (isinstance(changed, list) and len(changed) == 6 and all(type(v) in (int, float) for v in changed)):
        return None
    position, index, before, after, moved, sign = changed
    if not (0 <= position < len(args) and isinstance(args[position], np.ndarray)
            and 0 <= index < max(args[position].size, 1) and 0 <= moved < max(int(np.prod(wrt_shape)), 1)):
        return None
    argument = f"its {argument_names[position]}" if position < len(argument_names) else f"its argument {position + 1}"
    at = tuple(int(i) for i in np.unravel_index(int(index), args[position].shape))
    nudged = tuple(int(i) for i in np.unravel_index(int(moved), wrt_shape))
    return (f"{what} modified {argument} in place during the finite differences (in the call with element {nudged} "
            f"moved by {'+' if sign > 0 else '-'}{eps:g}, element {at} went from {before:.6g} to {after:.6g}), so "
            "each call saw another input and the differences are not its derivative: work on a copy (e.g. "
            "x = x.copy()), then check again")


def numerical_directional(f: Callable[[], np.ndarray], wrt: np.ndarray, u: np.ndarray, v: np.ndarray,
                          eps: float = EPS) -> tuple[float, np.ndarray]:
    """v . (f(wrt + eps u) - f(wrt - eps u)) / (2 eps), and the direction actually taken (the stored step over
    2 eps, which differs from u by rounding when `wrt` is float32); `wrt` is restored."""
    original = wrt.copy()
    wrt[...] = original + eps * u
    high = wrt.astype(np.float64)
    plus = float(np.vdot(v, f()))
    wrt[...] = original - eps * u
    low = wrt.astype(np.float64)
    minus = float(np.vdot(v, f()))
    wrt[...] = original
    return (plus - minus) / (2 * eps), (high - low) / (2 * eps)


def assert_jacobians_close(what: str, analytical: np.ndarray, numerical: np.ndarray, out_shape: tuple,
                           wrt_shape: tuple, tolerance: Tolerance = TOLERANCE, *, modified: str | None = None) -> None:
    """Full-mode verdict: the worst (output index, input index) pair and the values there; `modified`: what forward
    changed in its own input meanwhile (numerical_jacobian), the cause to name first."""
    diff = np.abs(analytical - numerical)
    allowed = tolerance.atol + tolerance.rtol * np.abs(numerical)
    bad = ~(diff <= allowed)
    if not bad.any():
        return
    row, col = np.unravel_index(int(np.argmax(np.where(np.isnan(diff), np.inf, diff / allowed))), diff.shape)
    out_index = tuple(int(i) for i in np.unravel_index(row, out_shape))
    in_index = tuple(int(i) for i in np.unravel_index(col, wrt_shape))
    entry = f"d output{out_index} / d {what.removeprefix('grad of ')}{in_index}"
    both_nan = np.isnan(analytical) & np.isnan(numerical)
    if both_nan[row, col]:
        head = (f"{what} cannot be checked against finite differences: forward gives nan on this input (or next to "
                f"it), and backward gives nan too ({int(both_nan.sum())} / {bad.size} entries nan on both sides, e.g."
                f" {entry}): a function that is nan here has no derivative to compare; see the 'forward matches "
                "torch' check for whether it should be finite here")
    else:
        head = (f"{what} disagrees with finite differences of forward (full Jacobian, {diff.shape[0]} x "
                f"{diff.shape[1]}): {int(bad.sum())} / {bad.size} entries mismatched\n"
                f"  worst: {entry}: {_given('finite differences', numerical[row, col])}, "
                f"{_given('backward', analytical[row, col])}\n"
                f"  tolerance: {tolerance}")
    message = head + (f"\n  cause: {modified}" if modified else "")
    remember(Mismatch(f"{what}: Jacobian (row: output element, column: input element; expected: finite differences)",
                      numerical, analytical, (int(row), int(col)), message))
    raise CheckFailure(message)


def _given(side: str, value: float) -> str:
    """What one side gives; nan from finite differences named for what it means: forward is nan nearby."""
    if side == "backward":
        return f"backward gives {value:.6g}"
    return "finite differences give nan (forward is nan next to this input)" if np.isnan(value) else \
        f"finite differences give {value:.6g}"


def assert_directional_close(what: str, analytical: list[float], numerical: list[float],
                             tolerance: Tolerance = TOLERANCE) -> None:
    """Fast-mode verdict: one scalar per random direction."""
    for i, (a, n) in enumerate(zip(analytical, numerical)):
        if np.isnan(a) and np.isnan(n):
            raise CheckFailure(
                f"{what} cannot be checked against finite differences: forward gives nan on this input (or next to "
                f"it), and backward gives nan too (direction {i + 1} of {len(numerical)}, fast mode: v^T J u): a "
                "function that is nan here has no derivative to compare; see the 'forward matches torch' check for "
                "whether it should be finite here")
        if not abs(a - n) <= tolerance.atol + tolerance.rtol * abs(n):
            raise CheckFailure(
                f"{what} disagrees with finite differences of forward (fast mode: v^T J u along random directions)\n"
                f"  direction {i + 1} of {len(numerical)}: {_given('finite differences', n)}, {_given('backward', a)}"
                f" (difference {abs(a - n):.3g})\n"
                f"  tolerance: {tolerance}; run the 'backward matches torch' check to locate the wrong elements"
            )
