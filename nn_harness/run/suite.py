"""The suite as one command: the harness's tests, rooted in its checkout, from whatever folder it is started.

`nn-harness` (nn_harness/run/cli.py) and a plain `pytest --impl ...` from outside the checkout (nn_harness/run/entry.py) both
run it, so a reproduce line (`pytest --impl layers.py 'tests/test_layers.py::...'`) runs wherever its run ran.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the checkout (or install) holding nn_harness/
TESTS = ROOT / "tests"
# What a grading run never needs and must not do: write .pytest_cache into the harness's install (which may be
# read-only) or, where pytest-benchmark is installed, .benchmarks into the caller's folder; and end each process with
# five full garbage collections (1.5 to 2 s with torch loaded) to report exceptions raised in __del__.
QUIET_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "no:unraisableexception")


def suite_args(args: list[str], *, workers: str | None) -> list[str]:
    """pytest's arguments for the suite: `args` with any node id of the harness's tests made absolute, the whole
    suite (without the meta-tests) when they name no test, and `-n workers` unless None."""
    tests = [_resolved(arg) for arg in args]
    named = any(in_suite(arg) for arg in tests)
    suite = [] if named else [str(TESTS), "--ignore", str(TESTS / "meta")]
    return [*suite, "--rootdir", str(ROOT), *QUIET_PLUGINS, *(["-n", workers] if workers is not None else []), *tests]


def _resolved(arg: str) -> str:
    """`tests/...` (a file or node id of the harness's suite, as reproduce lines give it), absolute; other args as
    they are (an existing file of the caller's wins)."""
    path = arg.split("::", 1)[0]
    if not path.startswith("tests" + os.sep) or Path(path).exists() or not (ROOT / path).exists():
        return arg
    return str(ROOT / arg)


def in_suite(arg: str, here: Path | None = None) -> bool:
    """Whether `arg` (a path or node id, relative to `here`) names the harness's tests or some of them: a folder of
    them or a test module. Not any file there: `--impl tests/meta/hostile/nan_output.py` names a submission."""
    path = (here or Path.cwd()) / arg.split("::", 1)[0]
    if not path.exists() or not path.resolve().is_relative_to(TESTS):
        return False
    return path.is_dir() or (path.name.startswith("test_") and path.suffix == ".py")


_running = False  # whether this process is inside run_suite: nn_harness/run/entry.py must not start it again


def running() -> bool:
    return _running


def run_suite(args: list[str], *, workers: str | None, plugins: list[object] = ()) -> int:
    global _running
    _running, before = True, _running
    try:
        return int(pytest.main(suite_args(args, workers=workers), plugins=list(plugins)))
    finally:
        _running = before
