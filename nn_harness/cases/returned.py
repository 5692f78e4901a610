"""What the submission hands back must be: exactly an ndarray of the expected shape and dtype, or a real number.

An object that merely pretends to be an array (a subclass overriding arithmetic, a list) never passes, and a wrong
shape is named before any value is looked at (nn_harness/checks/compare.py compares the values).
"""

import numpy as np

from nn_harness.sandbox.student import CheckFailure, describe


def strict_array(value: object, *, what: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """`value` as a plain ndarray if it is exactly an ndarray of this shape and dtype; otherwise CheckFailure."""
    dtype = np.dtype(dtype)
    if not isinstance(value, np.ndarray):
        raise CheckFailure(
            f"{what}: expected a numpy.ndarray of shape {shape} and dtype {dtype}, got {describe(value)}"
            + (" (None: did the method forget to return?)" if value is None else "")
        )
    if value.shape != shape:
        raise CheckFailure(f"{what}: expected shape {shape}, got shape {value.shape}" + shape_hint(value.shape, shape))
    if value.dtype != dtype:
        raise CheckFailure(
            f"{what}: expected dtype {dtype}, got dtype {value.dtype}"
            + (" (float32 in must give float32 out: was something promoted to float64?)" if dtype == np.float32 else "")
        )
    # A subclass may override arithmetic or comparison; look at its data through a plain ndarray.
    return np.array(value, dtype=dtype, copy=True, subok=False)


def strict_float(value: object, *, what: str) -> float:
    """A loss value: a Python or NumPy real scalar (or a 0-d / one-element array), as float."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if not isinstance(value, (float, int, np.floating, np.integer)) or isinstance(value, bool):
        raise CheckFailure(f"{what}: expected a float, got {describe(value)}")
    return float(value)


def shape_hint(got: tuple[int, ...], expected: tuple[int, ...]) -> str:
    if len(got) == len(expected) >= 2 and got == expected[::-1]:
        return " (the transpose of the expected shape: is a matrix transposed?)"
    if len(got) == len(expected) + 1 and got[1:] == expected:
        return f" (one leading axis too many: was it meant to be summed over the batch of {got[0]}?)"
    return ""
