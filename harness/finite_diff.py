"""Central finite differences of a function of arrays that are perturbed in place (inputs or live parameters).

Two modes, as torch.autograd.gradcheck has: the full Jacobian for small tensors (every element of every
input against every output), and a fast mode for large ones that compares directional derivatives along
random directions u (input side) and v (output side): v^T J u, numerically and from one backward pass.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from harness.boundary import beside
from harness.compare import CheckFailure, Tolerance
from harness.sandbox.student import call

EPS = 1e-6  # float64; values are kept at least 1e-3 from kinks and ties (harness.strategies.KINK_MARGIN)
TOLERANCE = Tolerance(rtol=1e-4, atol=1e-6)
FULL_LIMIT = 200  # tensors up to this many elements (inputs and outputs) get the full Jacobian
DIRECTIONS = 3  # random directions per tensor in fast mode


def numerical_jacobian(fn: Callable[..., Any], args: tuple, wrt: np.ndarray, eps: float = EPS,
                       result: Callable[[Any], np.ndarray] = np.asarray, what: str = "f") -> np.ndarray:
    """d fn(*args) / d wrt as an (output size, wrt.size) matrix; `wrt` is perturbed in place and restored.

    The calls run beside `fn` (in its sandbox, all 2n of them in one request: harness/sandbox/helpers.py);
    `result` turns each output into an array, or raises CheckFailure for what is not one; an exception from `fn`
    fails as `what` raising it. The step is the one
    actually stored (read back), so float32 parameters get a right difference quotient.
    """
    plus, minus, highs, lows = call(f"{what} (with one element moved by +-{eps:g})",
                                    beside(fn, "helpers").central_differences, fn, args, wrt, eps)
    columns = [(np.asarray(result(p), dtype=np.float64).reshape(-1) - np.asarray(result(m), dtype=np.float64).reshape(-1))
               / (high - low) for p, m, high, low in zip(plus, minus, highs, lows)]
    return np.stack(columns, axis=1)


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
                           wrt_shape: tuple, tolerance: Tolerance = TOLERANCE) -> None:
    """Full-mode verdict: the worst (output index, input index) pair and the values there."""
    diff = np.abs(analytical - numerical)
    allowed = tolerance.atol + tolerance.rtol * np.abs(numerical)
    bad = ~(diff <= allowed)
    if not bad.any():
        return
    row, col = np.unravel_index(int(np.argmax(np.where(np.isnan(diff), np.inf, diff / allowed))), diff.shape)
    out_index = tuple(int(i) for i in np.unravel_index(row, out_shape))
    in_index = tuple(int(i) for i in np.unravel_index(col, wrt_shape))
    raise CheckFailure(
        f"{what} disagrees with finite differences of forward (full Jacobian, {diff.shape[0]} x {diff.shape[1]}):"
        f" {int(bad.sum())} / {bad.size} entries mismatched\n"
        f"  worst: d output{out_index} / d {what.removeprefix('grad of ')}{in_index}:"
        f" finite differences give {numerical[row, col]:.6g}, backward gives {analytical[row, col]:.6g}\n"
        f"  tolerance: {tolerance}"
    )


def assert_directional_close(what: str, analytical: list[float], numerical: list[float],
                             tolerance: Tolerance = TOLERANCE) -> None:
    """Fast-mode verdict: one scalar per random direction."""
    for i, (a, n) in enumerate(zip(analytical, numerical)):
        if not abs(a - n) <= tolerance.atol + tolerance.rtol * abs(n):
            raise CheckFailure(
                f"{what} disagrees with finite differences of forward (fast mode: v^T J u along random directions)\n"
                f"  direction {i + 1} of {len(numerical)}: finite differences give {n:.6g}, backward gives {a:.6g}"
                f" (difference {abs(a - n):.3g})\n"
                f"  tolerance: {tolerance}; run the 'backward matches torch' check to locate the wrong elements"
            )
