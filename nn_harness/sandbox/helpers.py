"""Objects the checks build beside the submission (in the sandbox), so the submission's code can use them."""

from collections.abc import Callable
from typing import Any

import numpy as np


class ParameterHolder:
    """A module with parameters and nothing else: an optimizer is checked apart from any layer."""

    def __init__(self, values: list[np.ndarray]) -> None:
        self.params = [np.array(v, dtype=np.float64) for v in values]
        self.grads = [np.zeros_like(v) for v in self.params]

    def parameters(self) -> list[np.ndarray]:
        return self.params

    def grad_parameters(self) -> list[np.ndarray]:
        return self.grads

    def zero_grad(self) -> None:
        for grad in self.grads:
            grad.fill(0.0)


def _kept(value: object) -> object:
    """An output as it was when returned (a layer may hand out the same buffer every call); a tuple's arrays too
    (several outputs or input gradients)."""
    if isinstance(value, tuple | list):
        return type(value)(v.copy() if isinstance(v, np.ndarray) else v for v in value)
    return value.copy() if isinstance(value, np.ndarray) else value


def central_differences(fn: Callable[..., Any], args: tuple, wrt: np.ndarray, eps: float) -> tuple[list, ...]:
    """fn(*args) with each element of `wrt` moved by +eps, then by -eps (restored after each): the outputs and the
    values actually stored (float32 rounds the step), and the first change fn made to an array argument (`_changed`,
    or None). nn_harness/checks/finite_diff.py's loop, run beside the code it calls so that its 2n calls are one request; the
    trusted side checks every output and takes the differences."""
    flat = wrt.reshape(-1)  # a view of a contiguous array: writing to it perturbs what fn reads
    plus, minus, highs, lows, changed = [], [], [], [], None
    for i in range(flat.size):
        original = flat[i]
        for sign, outputs, stored in ((1, plus, highs), (-1, minus, lows)):
            flat[i] = original + sign * eps
            stored.append(float(flat[i]))
            before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
            outputs.append(_kept(fn(*args)))
            changed = _changed(args, before, i, sign) if changed is None else changed
        flat[i] = original
    return plus, minus, highs, lows, changed


def _changed(args: tuple, before: list, moved: int, sign: int) -> list | None:
    """[argument position, flat index, value before, value after, element moved, its sign] of the first element of an
    array argument that a call changed; None when the call left them all as they were."""
    for position, (arg, old) in enumerate(zip(args, before)):
        if old is None or np.array_equal(arg, old, equal_nan=old.dtype.kind == "f"):
            continue
        differs = (arg != old) & ~(np.isnan(arg) & np.isnan(old)) if old.dtype.kind == "f" else arg != old
        index = int(np.flatnonzero(differs)[0]) if arg.shape == old.shape else 0
        return [position, index, float(old.reshape(-1)[index]), float(arg.reshape(-1)[index]), moved, sign]
    return None


def backward_rows(layer: Any, inputs: tuple, upstream: list[tuple]) -> list[tuple]:
    """For each tuple of upstream gradients (one per output): zero_grad(), forward(*inputs), backward(*inputs, *gs),
    grad_parameters(); what each returned (copies), for the trusted side to check. One request for the rows of a
    full Jacobian."""
    rows = []
    for gs in upstream:
        layer.zero_grad()
        out = _kept(layer.forward(*inputs))
        grad_input = _kept(layer.backward(*inputs, *gs))
        grads = layer.grad_parameters()
        rows.append((out, grad_input, [_kept(v) for v in grads] if isinstance(grads, list | tuple) else grads))
    return rows
