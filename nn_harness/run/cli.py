"""`nn-harness` / `python -m nn_harness`: grade an implementation (default: impl/) with the whole layer suite.

Any argument it does not know is passed on to pytest, e.g. `nn-harness --impl alice.py -m Conv2d -x`.
Exit code: 0 graded and every graded check passed, 1 graded and some failed (also when the submission cannot be
imported: every check fails), 2 to 5 the harness could not grade (pytest's codes: 2 interrupted, 3 internal error,
4 usage error, 5 no check collected), with the reason on the last line of stderr.
`nn-harness grade-all SUBMISSIONS --out RESULTS` grades a class's folder and `nn-harness gradebook RESULTS...`
merges results folders (nn_harness/grading/grade_all.py, docs/classroom.md). `nn-harness gradescope` and `nn-harness classroom`
write what a course uploads to grade there (nn_harness/grading/bundles.py).
"""

import argparse
import sys

import pytest

from nn_harness.run import quick_exit
from nn_harness.run.suite import run_suite


def entry() -> None:
    """The `nn-harness` command: main(), then the end of the process without the interpreter's teardown."""
    quick_exit.now(main())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["grade-all"], ["gradebook"]):
        from nn_harness.grading import grade_all

        return grade_all.main(argv)
    if argv[:1] in (["gradescope"], ["classroom"]):
        from nn_harness.grading import bundles

        return bundles.main(argv)
    parser = argparse.ArgumentParser(prog="nn-harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default=None, help="module name, .py file or package folder (default: impl)")
    parser.add_argument("-n", "--workers", default="auto", help="pytest-xdist workers (default: auto; 0 for none)")
    args, pytest_args = parser.parse_known_args(argv)
    why = _Why()
    code = run_suite(["-q", *(["--impl", args.impl] if args.impl else []), *pytest_args], workers=args.workers,
                     plugins=[why])
    return code if code in GRADED else _could_not_grade(code, why.reason)


GRADED = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)  # nn_harness/grading/grade_all.py counts these as graded
COULD_NOT_GRADE = {  # pytest's own codes and meanings, kept (docs/grading.md)
    pytest.ExitCode.INTERRUPTED: "the run was interrupted",
    pytest.ExitCode.INTERNAL_ERROR: "an internal error of the harness",
    pytest.ExitCode.USAGE_ERROR: "a usage error (the options, or a weights, profile or assignment file; above)",
    pytest.ExitCode.NO_TESTS_COLLECTED: "no check was collected: -m / -k, or the assignment's layers, selected none",
}


class _Why:
    """Why a run could not grade, for the last line on stderr (pytest prints the details above it)."""

    def __init__(self) -> None:
        self.reason = ""

    @pytest.hookimpl(wrapper=True)
    def pytest_cmdline_main(self, config: pytest.Config) -> object:
        try:
            return (yield)
        except pytest.UsageError as error:  # from the options' checks, e.g. a wrong assignment file
            self.reason = f"usage error: {error}"
            raise

    def pytest_internalerror(self, excinfo: pytest.ExceptionInfo) -> None:
        self.reason = self.reason or f"internal error: {excinfo.exconly()[:500]}"

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo) -> None:
        self.reason = self.reason or f"interrupted: {excinfo.exconly()[:500]}"

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and not self.reason:
            self.reason = f"the suite could not be collected: an error in {report.nodeid or 'collection'}"


def _could_not_grade(code: int, reason: str) -> int:
    """Print why, last on stderr; the code is pytest's own for 2 to 5, and 3 (internal error) for anything else."""
    what = reason or (COULD_NOT_GRADE[code] if code in COULD_NOT_GRADE else f"pytest ended with exit code {code}")
    code = code if code in COULD_NOT_GRADE else int(pytest.ExitCode.INTERNAL_ERROR)
    sys.stdout.flush()
    print(f"nn-harness: could not grade (exit code {code}): {what}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
