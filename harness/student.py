"""Calling into the code under test: any exception it raises becomes a readable check failure."""

import traceback
from collections.abc import Callable
from typing import Any

from harness.compare import CheckFailure


def call(what: str, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)`; an exception from inside becomes CheckFailure naming `what` and the line that raised."""
    try:
        return fn(*args)
    except CheckFailure:
        raise
    except Exception as error:  # noqa: BLE001 - any failure of the code under test is a verdict, not a crash
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise CheckFailure(
            f"{what} raised {type(error).__name__}: {error}\n"
            f"  at {frame.filename}:{frame.lineno}: {frame.line}"
        ) from None


def method(obj: Any, name: str, owner: str) -> Callable[..., Any]:
    """The bound method `obj.<name>`, or CheckFailure when the contract's method is missing."""
    fn = getattr(obj, name, None)
    if not callable(fn):
        raise CheckFailure(f"{owner} has no method {name}() (the contract requires it)")
    return fn
