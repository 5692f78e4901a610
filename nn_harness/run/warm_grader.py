"""A warm grader (nn_harness/grading/warm.py drives it): imports what every grading run imports, once, then forks one
run of the ordinary `nn-harness` command (nn_harness/run/cli.py) per request, each in a process group of its own
with its output in the submission's log.

The protocol, one JSON line each way: {"argv": [...], "log": path} -> {"pid": n}, then {"pid": n, "exit": code} when
the run ends (its exit code as subprocess reports it: negative for a signal).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import IO

from nn_harness.run import quick_exit

# What every grading run imports, so the runs find it imported (the slow part of a cold start).
PRELOAD = ("numpy", "torch", "hypothesis", "pytest", "xdist", "matplotlib", "matplotlib.pyplot", "reference",
           "nn_harness.run.cli", "nn_harness.run.plugin", "nn_harness.run.verdicts", "nn_harness.report.html_page",
           "nn_harness.checks.layer", "nn_harness.checks.loss", "nn_harness.checks.optim", "nn_harness.training.data")


def serve(requests: IO[str], replies: IO[str]) -> None:
    """Answer requests until the channel closes: fork a grading run for each, report its pid, wait, report its code."""
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.close(replies.fileno())  # the grader's channel is not the run's: a lost grader's reader sees it end
            _child(request["argv"], request["log"])
        os.setpgid(pid, pid)  # here too (the child sets it as well): a group of its own before its pid is reported
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"pid": pid, "exit": os.waitstatus_to_exitcode(status)}) + "\n")
        replies.flush()


def _child(argv: list[str], log: str) -> None:
    """The grading run: a process group of its own (grade-all stops it, sandboxes and all, as one), its output in
    the log."""
    code = 3
    try:
        os.setpgid(0, 0)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own descriptors, for its lifetime
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        from nn_harness.run.cli import main

        code = main(argv)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException:  # noqa: BLE001 - as a cold run's crash would: its traceback in the log, exit code 3
        import traceback

        traceback.print_exc()
    finally:
        quick_exit.now(code)  # the grader's forked copy: never back into serve()


if __name__ == "__main__":
    replies = os.fdopen(os.dup(1), "w")  # the channel, kept from whatever the imports print
    os.dup2(2, 1)
    for name in PRELOAD:
        importlib.import_module(name)
    serve(sys.stdin, replies)
