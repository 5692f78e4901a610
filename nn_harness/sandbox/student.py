"""Calling into the code under test: any exception it raises becomes a readable check failure."""

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class CheckFailure(AssertionError):
    """A check's verdict: what failed, by how much, and (where the numbers fit a known mistake) a hint."""


class RaisedInSubmission(Exception):  # noqa: N818 - named for what it reports
    """An exception the submission raised in the sandbox, as the sandbox reported it: its type's name, its
    message, and the student's line that raised it."""

    def __init__(self, type_name: str, message: str, where: str | None) -> None:
        super().__init__(message)
        self.type_name, self.message, self.where = type_name, message, where


HARNESS = str(Path(__file__).resolve().parent)
# Frames of these are never the student's: the harness (its adapters included), NumPy, the standard library.
NOT_STUDENT = (HARNESS, "/site-packages/", "/dist-packages/", "/lib/python3")


def student_frame(tb: Any) -> traceback.FrameSummary:
    """The deepest frame of a traceback in the student's code (not NumPy's internals, not the harness's adapter
    code that called it); the deepest frame of all when none is."""
    frames = traceback.extract_tb(tb)
    theirs = [f for f in frames if not any(part in f.filename for part in NOT_STUDENT)]
    return (theirs or frames)[-1]


def describe(value: Any) -> str:
    """What a student's method returned, briefly: type, and shape and dtype for arrays."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)}: [{', '.join(describe(v) for v in value[:4])}" + \
            (", ...]" if len(value) > 4 else "]")
    if hasattr(type(value), "sandboxed_type"):  # a handle to an object in the sandbox (nn_harness/sandbox/client.py)
        return f"an object of type {value.sandboxed_type}"
    return "None" if value is None else f"{type(value).__name__} {value!r:.60}"


def returned(what: str, value: Any, expected: str) -> Any:
    """`value`, which the student's `what` returned, when it is a number or an array; else CheckFailure naming it."""
    if isinstance(value, np.ndarray | float | int | np.number) and not isinstance(value, bool):
        return value
    raise CheckFailure(f"{what} returned {describe(value)}; expected {expected}")


def add_into(buffer: np.ndarray, grad: Any, what: str) -> None:
    """buffer += grad, for a gradient the student's `what` returned: a wrong shape or type names that method."""
    if not isinstance(grad, np.ndarray | float | int | np.number) or np.shape(grad) != buffer.shape:
        raise CheckFailure(f"{what} returned {describe(grad)} for a parameter of shape {buffer.shape}; expected an "
                           f"array of shape {buffer.shape}")
    buffer += grad


def call(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`; an exception from inside becomes CheckFailure naming `what` and the line that raised."""
    try:
        return fn(*args)
    except CheckFailure:
        raise
    except RaisedInSubmission as error:
        raise failure(what, error) from None
    except Exception as error:  # noqa: BLE001 - any failure of the code under test is a verdict, not a crash
        frame = student_frame(error.__traceback__)
        raise CheckFailure(
            f"{what} raised {type(error).__name__}: {error}\n"
            f"  at {frame.filename}:{frame.lineno}: {frame.line}"
        ) from None


def later(what: str, fn: Callable[..., Any], *args: Any) -> None:
    """`call(what, fn, *args)` for a call whose result is not used: a method of an object in the sandbox is sent with
    the next request (client.RemoteMethod.later), whose failure then names `what`; anything else is called now."""
    if hasattr(fn, "later"):
        fn.later(what, *args)
    else:
        call(what, fn, *args)


def failure(what: str, error: RaisedInSubmission) -> CheckFailure:
    """What the submission raised in `what`, as the check's failure: the type, the message, the student's line."""
    where = f"\n  at {error.where}" if error.where else ""
    return CheckFailure(f"{what} raised {error.type_name}: {error.message}{where}")


def method(obj: Any, name: str, owner: str) -> Callable[..., Any]:
    """The bound method `obj.<name>`, or CheckFailure when the contract's method is missing."""
    fn = getattr(obj, name, None)
    if not callable(fn):
        raise CheckFailure(f"{owner} has no method {name}() (the contract requires it)")
    return fn
