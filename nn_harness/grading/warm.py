"""Warm graders: grade-all's grading runs forked from a process that has imported the harness once.

A grading run is the ordinary single-submission command (`nn-harness --impl ...`); started cold, each one first
imports torch, hypothesis, pytest and the harness. A warm grader is a process that imports them once and then forks
one child per submission, which runs that command (nn_harness/run/cli.py) in a session of its own with its output
in the submission's log: what a cold run does, less the imports. Nothing of one child reaches the next (each is a
fresh copy of the grader), and no child runs submission code itself: the harness's sandbox does, as in a cold run.

The protocol, one JSON line each way: {"argv": [...], "log": path} -> {"pid": n}, then {"pid": n, "exit": code} when
the child ends (its exit code as subprocess reports it: negative for a signal).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

# What every grading run imports, so the children find it imported (the slow part of a cold start).
PRELOAD = ("numpy", "torch", "hypothesis", "pytest", "xdist", "matplotlib", "matplotlib.pyplot", "reference",
           "nn_harness.run.cli", "nn_harness.run.plugin", "nn_harness.run.verdicts", "nn_harness.report.html_page",
           "nn_harness.checks.layer", "nn_harness.checks.loss", "nn_harness.checks.optim", "nn_harness.training.data")


class WarmChild:
    """One grading run forked by a warm grader: what grade-all needs of a subprocess.Popen (pid, wait)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._done = threading.Event()

    def wait(self, timeout: float | None = None) -> int:
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(f"warm grading run {self.pid}", timeout or 0)
        return self.returncode  # type: ignore[return-value]

    def _ended(self, code: int) -> None:
        self.returncode = code
        self._done.set()


class WarmGrader:
    """A warm grader process, started on first use and again whenever it is lost; one run at a time."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self._children: dict[int, WarmChild] = {}
        self._started: list[WarmChild] = []
        self._lock = threading.Condition()

    def spawn(self, argv: list[str], log: Path) -> WarmChild:
        """Start `nn-harness *argv` with its output in `log`; OSError when the grader cannot (it is started again
        next time)."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        process = self.process
        try:
            process.stdin.write(json.dumps({"argv": argv, "log": str(log)}) + "\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
            with self._lock:
                if not self._lock.wait_for(lambda: self._started or self.process is not process, timeout=120):
                    raise OSError("it did not start the run within 120 s")
                if not self._started:
                    raise OSError("it ended")
                return self._started.pop()
        except (OSError, ValueError) as error:
            self.close()
            raise OSError(f"warm grader: {error}") from None

    def _start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "nn_harness.grading.warm"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                        start_new_session=True)
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        """The grader's replies: a run's pid when it starts, its exit code when it ends."""
        for line in process.stdout:  # type: ignore[union-attr]
            try:
                message = json.loads(line)
                pid = int(message["pid"])
            except (ValueError, KeyError, TypeError):
                continue
            with self._lock:
                if "exit" in message and pid in self._children:
                    self._children.pop(pid)._ended(int(message["exit"]))
                elif "exit" not in message:
                    self._children[pid] = child = WarmChild(pid)
                    self._started.append(child)
                    self._lock.notify_all()
        with self._lock:  # the grader is gone: its runs are stopped (their parent could not report them)
            if self.process is process:
                self.process = None
            for child in self._children.values():
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                child._ended(-signal.SIGKILL)
            self._children.clear()
            self._lock.notify_all()

    def close(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()


# ------------------------------------------------------------------------------------------------- the grader

def serve(requests: IO[str], replies: IO[str]) -> None:
    """Answer requests until the channel closes: fork a grading run for each, report its pid, wait, report its code."""
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
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
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    serve(sys.stdin, sys.stdout)
