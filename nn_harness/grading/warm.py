"""Warm graders, as grade-all drives them: its grading runs forked from a process that has imported the harness
once (the grader: nn_harness/run/warm_grader.py).

A grading run is the ordinary single-submission command (`nn-harness --impl ...`); started cold, each one first
imports torch, hypothesis, pytest and the harness. A warm grader imports them once and forks one run per submission,
in a process group of its own with its output in the submission's log: what a cold run does, less the imports.
Nothing of one run reaches the next (each is a fresh copy of the grader), and no run executes submission code
itself: the harness's sandbox does, as in a cold run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

SERVER = "nn_harness.run.warm_grader"  # the grader itself: the run stage's, as the cold command is


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
        self.process = subprocess.Popen([sys.executable, "-m", SERVER], stdin=subprocess.PIPE,
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
