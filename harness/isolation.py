"""Containment of the code under test, so a broken or hostile submission still gets a complete, honest report.

Controller side (the process that writes the report, never runs submission code under pytest-xdist):
  - an *import probe*: the submission is first imported in a throw-away subprocess, under the memory limit and a
    time limit; when that import hangs or kills its process, every worker is told not to import it (each check
    then fails with that reason at once instead of crashing or hanging a worker per check);
  - a state folder (NN_STATE_DIR, made per run) where workers leave the collected checks and crash notes.

Worker side (the processes that import and run the submission):
  - an address-space limit (RLIMIT_AS, --memory-limit-mb / NN_MEMORY_LIMIT_MB): a huge allocation raises
    MemoryError, a check failure, instead of exhausting the machine;
  - a watchdog per check (--check-timeout / NN_CHECK_TIMEOUT): on expiry it leaves a note and ends the worker
    (xdist replaces it; the report says "timed out after N s");
  - notes before a death: os._exit is wrapped to leave one, and faulthandler writes segfault tracebacks;
  - a tampering check: the identity of every function and class attribute of numpy, torch, hypothesis, pytest
    and the harness is recorded before the first check, compared after each one and restored when changed;
  - KeyboardInterrupt / pytest.exit raised by the submission inside a check fail that check only.
"""

from __future__ import annotations

import faulthandler
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import traceback
import types
from pathlib import Path
from typing import Any

import pytest

STATE_ENV = "NN_STATE_DIR"  # set by the controller for its workers; internal
VERDICT_ENV = "NN_IMPORT_VERDICT"  # the import probe's verdict, for the workers; internal
DEFAULT_MEMORY_MB = 4096  # torch alone maps ~0.8 GB of address space; measured in docs/grading.md
DEFAULT_CHECK_TIMEOUT = 60.0  # a whole check (all its hypothesis examples); the slowest takes ~5 s on one core
IMPORT_TIMEOUT = 60.0

_real_exit = os._exit
_is = id  # bound early: the submission cannot rebind what the checks below use


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def under_xdist(config: pytest.Config) -> bool:
    return is_worker(config) or bool(getattr(config.option, "numprocesses", None)) \
        and getattr(config.option, "dist", "no") != "no"


def state_dir() -> Path | None:
    value = os.environ.get(STATE_ENV)
    return Path(value) if value else None


def note_path(nodeid: str) -> Path | None:
    folder = state_dir()
    return folder / "notes" / hashlib.sha1(nodeid.encode()).hexdigest() if folder else None


def write_note(nodeid: str, text: str) -> None:
    path = note_path(nodeid)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(text.rstrip() + "\n")
    except OSError:
        pass


def read_note(nodeid: str) -> str | None:
    path = note_path(nodeid)
    try:
        return path.read_text() if path else None
    except OSError:
        return None


def fault_text(nodeid: str) -> str | None:
    """The faulthandler output of the worker that died running `nodeid`, if it wrote one."""
    folder = state_dir()
    if folder is None:
        return None
    marker = f"== running {nodeid}\n"
    for path in folder.glob("fault-*.txt"):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        at = text.rfind(marker)
        if at >= 0 and "Fatal Python error" in text[at:]:
            return text[at + len(marker):].strip()
    return None


def set_memory_limit(mb: float) -> None:
    if mb and mb > 0:
        limit = int(mb * 1024 * 1024)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


# ------------------------------------------------------------------------------------------------ import probe

def _probe_main(target: str, memory_mb: float, api: str) -> None:
    set_memory_limit(memory_mb)
    from harness.sandbox.loading import load_implementation

    impl = load_implementation(target)
    style = api
    try:
        from harness.sandbox import adapters

        resolved = adapters.resolve(impl, api)
        header = adapters.describe(impl, api, resolved)
        if api == "auto":  # the profile chosen by probing, for every process of the run
            style = resolved[0].name
    except Exception as error:  # noqa: BLE001 - the header is informative only
        header = [f"api: {api} ({type(error).__name__}: {error})"]
        style = "native" if api == "auto" else api
    print("NN-PROBE " + json.dumps({"ok": impl.module is not None, "origin": impl.origin, "error": impl.error,
                                    "header": header, "style": style}), flush=True)
    _real_exit(0)  # no interpreter shutdown: the submission's atexit / __del__ code is not the probe's business


def probe_import(target: str, memory_mb: float, timeout: float, api: str = "native") -> dict[str, Any]:
    """Import the submission in a subprocess. {"ok", "origin", "error", "hostile"}: hostile is a reason (the
    import hung or ended its process) when the workers must not import it at all."""
    command = [sys.executable, "-c", "import sys; from harness.isolation import _probe_main; "
               "_probe_main(sys.argv[1], float(sys.argv[2]), sys.argv[3])", target, str(memory_mb), api]
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"ok": False, "origin": target, "error": None,
                "hostile": f"importing the implementation did not finish within {timeout:g} s "
                           "(an endless loop or a long computation at import time?)"}
    for line in done.stdout.splitlines():
        if line.startswith("NN-PROBE "):
            return {**json.loads(line[len("NN-PROBE "):]), "hostile": None}
    how = (f"killed by signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}")
    tail = "\n".join((done.stderr or "").strip().splitlines()[-6:])
    return {"ok": False, "origin": target, "error": None,
            "hostile": f"importing the implementation ended the Python process ({how})"
                       + (f":\n{tail}" if tail else "")}


def import_verdict() -> dict[str, Any] | None:
    value = os.environ.get(VERDICT_ENV)
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None


def guarded_load(target: str) -> Any:
    """load_implementation, unless the probe found that importing this submission hangs or kills the process."""
    from harness.sandbox.loading import Implementation, load_implementation

    verdict = import_verdict()
    if verdict and verdict.get("target") == target and verdict.get("hostile"):
        return Implementation(target, None, verdict["hostile"])
    return load_implementation(target)


# ------------------------------------------------------------------------------------------------- tampering

WATCHED_PREFIXES = ("numpy", "torch", "hypothesis", "harness", "reference", "tests", "_pytest", "pytest",
                    "pluggy", "xdist", "execnet", "math", "builtins", "random", "json", "os", "sys", "time",
                    "threading", "traceback", "faulthandler", "resource", "operator", "functools")
# Large trees where only the parts the checks rely on are worth the per-check cost.
TORCH_MODULES = ("torch", "torch.nn", "torch.nn.functional", "torch.nn.modules.module", "torch.autograd",
                 "torch.optim", "torch.testing", "torch.linalg", "torch.random")


def _watched_module(name: str) -> bool:
    if name.startswith("torch"):
        return name in TORCH_MODULES
    if name.startswith("numpy"):
        return name.count(".") <= 1 and "._" not in name or name in ("numpy._core.numeric", "numpy._core.fromnumeric")
    return name.split(".")[0] in WATCHED_PREFIXES


def _significant(value: Any) -> bool:
    """Functions, classes, modules and descriptors: what a patch to fake a pass would replace (plain data such as
    counters and caches changes legitimately)."""
    return callable(value) or isinstance(value, (types.ModuleType, property, staticmethod, classmethod))


class Snapshot:
    """Who is who in the watched modules and in the classes they define."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, Any, dict[str, Any]]] = []  # (label, owner, {name: value})
        seen_classes: set[int] = set()
        for name, module in list(sys.modules.items()):
            if module is None or not _watched_module(name):
                continue
            try:
                namespace = vars(module)
            except TypeError:
                continue
            values = {k: v for k, v in list(namespace.items()) if _significant(v)}
            self.entries.append((name, module, values))
            if name.startswith(("torch", "numpy")) and name not in ("torch", "torch.nn", "numpy"):
                continue  # classes: only those of the harness, pytest and the top-level namespaces below
            for value in values.values():
                if isinstance(value, type) and _is(value) not in seen_classes and \
                        str(getattr(value, "__module__", "")).split(".")[0] in WATCHED_PREFIXES:
                    seen_classes.add(_is(value))
                    try:
                        members = {k: v for k, v in value.__dict__.items() if _significant(v)}
                    except Exception:  # noqa: BLE001
                        continue
                    self.entries.append((f"{value.__module__}.{value.__qualname__}", value, members))

    def changes(self) -> list[tuple[str, Any, str, Any]]:
        """(label, owner, name, original) for every watched entry that is no longer the same object."""
        missing = object()
        found = []
        for label, owner, values in self.entries:
            current = owner.__dict__
            for name, original in list(values.items()):
                now = current.get(name, missing)
                if now is not original:
                    if label.startswith("torch") and getattr(now, "__wrapped__", None) is original:
                        values[name] = now  # torch wraps some functions lazily (optimizer step hooks, dynamo)
                        continue
                    found.append((label, owner, name, original))
        return found

    @staticmethod
    def restore(changes: list[tuple[str, Any, str, Any]]) -> None:
        for _, owner, name, original in changes:
            try:
                setattr(owner, name, original)
            except Exception:  # noqa: BLE001 - best effort; the check has failed anyway
                pass


# -------------------------------------------------------------------------------------------------- the plugin

def _float(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{what}: expected a number of seconds / megabytes, got {value!r}") from None


class Isolation:
    """Registered in every process; the controller and the worker parts act by role."""

    def __init__(self, config: pytest.Config) -> None:
        from harness.plugin import option

        self.config = config
        self.worker = is_worker(config)
        self.xdist = under_xdist(config)
        self.memory_mb = _float(option(config, "memory_limit_mb") or DEFAULT_MEMORY_MB, "--memory-limit-mb")
        explicit = option(config, "check_timeout")
        self.check_timeout = _float(explicit, "--check-timeout") if explicit else None
        self.snapshot: Snapshot | None = None
        self.fault_file = None
        self.current: str | None = None
        self.runs_submission = False
        # NN_ISOLATION=0 turns all of this off (to measure its overhead); never for grading.
        self.enabled = os.environ.get("NN_ISOLATION", "1") != "0"

    # -- set-up
    def start(self) -> None:
        from harness.plugin import option

        if not self.enabled:
            if not self.worker:
                os.environ[STATE_ENV] = tempfile.mkdtemp(prefix="nn-harness-")
            return
        if not self.worker:
            folder = Path(tempfile.mkdtemp(prefix="nn-harness-"))
            os.environ[STATE_ENV] = str(folder)  # inherited by the xdist workers spawned later
            target = option(self.config, "impl")
            timeout = max(self.check_timeout or IMPORT_TIMEOUT, 5.0)
            verdict = probe_import(target, self.memory_mb, timeout, option(self.config, "api") or "native")
            os.environ[VERDICT_ENV] = json.dumps({**verdict, "target": target})
            self.config.stash[VERDICT_KEY] = verdict
            if self.xdist and getattr(self.config.option, "maxworkerrestart", None) is None:
                # Each crashing check costs one worker; the default (4 per worker) would stop grading early.
                self.config.option.maxworkerrestart = "100000"
        if self.worker or not self.xdist:  # this process runs the submission
            set_memory_limit(self.memory_mb)
            self.runs_submission = True
        if self.worker:
            def exit_with_note(code: int = 0) -> None:
                if self.current:
                    frame = traceback.extract_stack()[-2]
                    write_note(self.current, f"the implementation called os._exit({code}) at "
                                             f"{frame.filename}:{frame.lineno}: the worker process ended")
                _real_exit(code)

            os._exit = exit_with_note

    # -- per check
    def timeout_for(self, item: pytest.Item) -> float | None:
        marker = item.get_closest_marker("timeout")
        if marker is not None and (marker.args or "timeout" in marker.kwargs):
            return float(marker.args[0] if marker.args else marker.kwargs["timeout"]) or None
        if self.check_timeout is not None:
            return self.check_timeout or None
        if dict(item.user_properties).get("kind") == "end-to-end":
            value = self.config.getoption("timeout", None) or self.config.getini("timeout")
            return float(value) if value else None
        return DEFAULT_CHECK_TIMEOUT

    @pytest.hookimpl(trylast=True)  # after harness.report has tagged the checks
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if not self.enabled or not self.xdist and self.check_timeout is None:
            return  # in-process: pytest-timeout's own settings apply
        for item in items:
            if "layer" not in dict(item.user_properties):
                continue  # not a check of the submission (e.g. the meta-tests): pytest-timeout's settings apply
            seconds = self.timeout_for(item)
            if self.xdist:  # the watchdog below replaces pytest-timeout, which could not stop a hypothesis replay
                item.add_marker(pytest.mark.timeout(0), append=False)
                item.stash[TIMEOUT_KEY] = seconds
            else:
                item.add_marker(pytest.mark.timeout(seconds or 0, method="thread"), append=False)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        if not self.enabled:
            return (yield)
        if self.snapshot is None:
            self.snapshot = Snapshot()  # before the first check imports the submission
            folder = state_dir()
            if self.runs_submission and folder is not None:  # here, after pytest's own faulthandler set-up
                self.fault_file = open(folder / f"fault-{os.getpid()}.txt", "w")  # noqa: SIM115
                faulthandler.enable(file=self.fault_file, all_threads=False)
        self.current = item.nodeid
        if self.fault_file is not None:
            self.fault_file.write(f"== running {item.nodeid}\n")
            self.fault_file.flush()
        seconds = item.stash.get(TIMEOUT_KEY, None) if self.worker else None
        timer = None
        if seconds:
            timer = threading.Timer(seconds, self._expired, args=(item.nodeid, seconds))
            timer.daemon = True
            timer.start()
        try:
            return (yield)
        finally:
            if timer is not None:
                timer.cancel()
            self.current = None

    def _expired(self, nodeid: str, seconds: float) -> None:
        where = ""
        frames = sys._current_frames().get(threading.main_thread().ident)
        if frames is not None:
            stack = traceback.extract_stack(frames)
            inside = [f for f in stack if "/harness/" not in f.filename and "/site-packages/" not in f.filename
                      and "/lib/python" not in f.filename]
            frame = (inside or stack)[-1]
            where = f"\n  was running: {frame.filename}:{frame.lineno}: {frame.line}"
        write_note(nodeid, f"timed out after {seconds:g} s (the worker running it was stopped){where}")
        sys.stderr.flush()
        _real_exit(3)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        try:
            return (yield)
        except (KeyboardInterrupt, pytest.exit.Exception) as error:
            if not self.worker:
                raise
            raise pytest.fail.Exception(
                f"the check was stopped by {type(error).__name__} raised inside it: {error}", pytrace=False) from None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        if self.snapshot is not None and call.when in ("setup", "call"):
            changes = self.snapshot.changes()
            if changes:
                Snapshot.restore(changes)
                names = sorted({f"{label}.{name}" for label, _, name, _ in changes})
                shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
                report.outcome = "failed"
                report.longrepr = (f"tampering detected: {shown} "
                                   f"{'was' if len(names) == 1 else 'were'} replaced while this check ran "
                                   "(the originals are restored; the check counts as failed)")
        return report


VERDICT_KEY = pytest.StashKey[dict]()
TIMEOUT_KEY = pytest.StashKey[float]()


def crash_reason(nodeid: str) -> str:
    """Why the worker running `nodeid` died, from the notes it left."""
    note = read_note(nodeid)
    if note:
        return note.strip()
    fault = fault_text(nodeid)
    if fault:
        first = fault.splitlines()[0].replace("Fatal Python error: ", "")
        frames = [line.strip() for line in fault.splitlines() if line.strip().startswith("File ")]
        inside = [f for f in frames if "/harness/" not in f and "/site-packages/" not in f and "/lib/python" not in f]
        where = f"\n  at {(inside or frames)[0]}" if frames else ""
        return f"worker crashed while running this check: {first}{where}"
    return ("worker crashed while running this check (the process ended without a Python exception: "
            "os._exit, a signal, or the operating system's out-of-memory killer)")


def header_lines(config: pytest.Config, target: str) -> list[str]:
    """The report header's implementation lines, from the import probe: the controller never imports it."""
    verdict = config.stash.get(VERDICT_KEY, None) or import_verdict() or {}
    if verdict.get("hostile"):
        first = verdict["hostile"].splitlines()[0]
        return [f"implementation: {target} (IMPORT FAILED: {first})"]
    if not verdict:
        return [f"implementation: {target} (not probed: NN_ISOLATION=0)"]
    status = verdict.get("origin", target) if verdict.get("ok") else "IMPORT FAILED"
    return [f"implementation: {target} ({status})", *verdict.get("header", [])]
