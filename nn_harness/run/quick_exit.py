"""Ending a process whose work is done without the interpreter's teardown of its modules and objects: with torch and
a whole suite's objects loaded that takes 0.4 to 1 s, and `nn-harness` waits for it in each xdist worker (the
controller tears the workers down at the end) and in itself. The exit functions still run (atexit: temporary
folders, finalizers, logging), and the output is flushed."""

import atexit
import os
import sys
from typing import NoReturn


def now(code: int) -> NoReturn:
    """Run the exit functions, flush, and end with `code`."""
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def at_exit() -> None:
    """From now on, the process ends so (code 0) once the interpreter begins to exit: for an xdist worker, whose
    results have reached the controller by then."""
    atexit.register(_end)


def _end() -> None:
    atexit.unregister(_end)  # the other exit functions, then the end: not twice
    now(0)
