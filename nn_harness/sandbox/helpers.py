"""Objects the checks build beside the submission (in the sandbox), so the submission's code can use them."""

import functools
import os
import re
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from nn_harness.sandbox.student import HARNESS, NOT_STUDENT
from nn_harness.sandbox.wire import fingerprint, stack_calls


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


def attribute(obj: Any, name: str) -> Any:
    """obj.<name>, None when it has none: a reading the trusted side sends with calls (promise pipelining)."""
    return getattr(obj, name, None)


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
    trusted side checks every output and takes the differences. The outputs go stacked (wire.stack_calls)."""
    flat = wrt.reshape(-1)  # a view of a contiguous array: writing to it perturbs what fn reads
    plus, minus, highs, lows, changed = [], [], [], [], None
    for i in range(flat.size):
        original = flat[i]
        for sign, outputs, stored in ((1, plus, highs), (-1, minus, lows)):
            flat[i] = original + sign * eps
            stored.append(float(flat[i]))
            before = [fingerprint(a) if isinstance(a, np.ndarray) else None for a in args] if changed is None else []
            outputs.append(_kept(fn(*args)))
            changed = _changed(args, before, i, sign) if changed is None else changed
        flat[i] = original
    return stack_calls(plus), stack_calls(minus), highs, lows, changed


def _changed(args: tuple, before: list, moved: int, sign: int) -> list | None:
    """[argument position, flat index, value before, value after, element moved, its sign] of the first element of an
    array argument that a call changed (`before`: each one's wire.fingerprint before the call); None when the call
    left them all as they were (equal values: a nan stays a nan, -0.0 equals 0.0)."""
    for position, (arg, was) in enumerate(zip(args, before)):
        if was is None or fingerprint(arg) == was:  # the common case, without building an array
            continue
        shape, dtype, data = was
        old = np.frombuffer(data, dtype=dtype).reshape(shape)
        if arg.shape != old.shape:
            return [position, 0, float(old.reshape(-1)[0]) if old.size else 0.0,
                    float(arg.reshape(-1)[0]) if arg.size else 0.0, moved, sign]
        differs = (arg != old) & ~(np.isnan(arg) & np.isnan(old)) if old.dtype.kind == "f" else arg != old
        if differs.any():
            index = int(np.flatnonzero(differs)[0])
            return [position, index, float(old.reshape(-1)[index]), float(arg.reshape(-1)[index]), moved, sign]
    return None


def backward_rows(layer: Any, inputs: tuple, upstream: list[tuple]) -> list[tuple]:
    """For each tuple of upstream gradients (one per output): zero_grad(), forward(*inputs), backward(*inputs, *gs),
    grad_parameters(); what each returned (copies, stacked: wire.stack_calls), for the trusted side to check. One
    request for the rows of a full Jacobian."""
    rows = []
    for gs in upstream:
        layer.zero_grad()
        out = _kept(layer.forward(*inputs))
        grad_input = _kept(layer.backward(*inputs, *gs))
        grads = layer.grad_parameters()
        rows.append((out, grad_input, [_kept(v) for v in grads] if isinstance(grads, list | tuple) else grads))
    return stack_calls(rows)


# What a course calls its forward: the contract's, Torch7's and its snake_case variant's names, and cs231n's functions
# (`affine_forward`, `conv_forward_naive`): "forward" as a word of a snake_case name (never "backward").
_FORWARD_NAMES = frozenset({"__call__", "updateOutput", "update_output"})
_FORWARD_WORD = re.compile(r"(^|_)forward(_|$)", re.IGNORECASE)
_HARNESS = (HARNESS, os.path.dirname(os.path.abspath(__file__)))  # resolved and as imported: either may be shown


@functools.cache
def _student_forward(code: types.CodeType) -> bool:
    """A forward of the submission's own (its file is none of the harness's, NumPy's or the standard library's)."""
    named = code.co_name in _FORWARD_NAMES or bool(_FORWARD_WORD.search(code.co_name))
    return named and not any(part in code.co_filename for part in (*NOT_STUDENT, *_HARNESS))


class ForwardCounter:
    """A profile function counting the submission's forward calls: only the outermost (a Sequential's forward
    running its children's, `__call__` running `forward`, is one call), and only those the submission's own code
    makes. An adapter running a forward itself (a course layer that takes one sample at a time is re-run per
    sample before its backward) is the harness's doing, so the forward calls inside that one are not counted either."""

    def __init__(self) -> None:
        self.calls = 0
        self._open: list[types.FrameType] = []  # the forward frames entered, innermost last

    def __call__(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and _student_forward(frame.f_code):
            caller = frame.f_back
            if not self._open and not (caller and caller.f_code.co_filename.startswith(_HARNESS)):
                self.calls += 1
            self._open.append(frame)
        elif event == "return" and self._open and self._open[-1] is frame:
            self._open.pop()


def forward_calls_in_backward(layer: Any, inputs: tuple, upstream: tuple) -> int:
    """layer.backward(*inputs, *upstream), counting the forward calls the submission makes meanwhile
    (`ForwardCounter`): a plain number for the trusted side to judge (a backward by central differences of its own
    forward makes two per input and parameter element). Run here, beside the code it watches."""
    counter, previous = ForwardCounter(), sys.getprofile()
    sys.setprofile(counter)
    try:
        layer.backward(*inputs, *upstream)
    finally:
        sys.setprofile(previous)
    return counter.calls
