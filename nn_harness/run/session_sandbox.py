"""The sandbox in a pytest run, so a broken or hostile submission still gets a complete, honest report.

No pytest process imports the submission. Each process that runs checks owns one sandbox (nn_harness/sandbox/client.py);
the controller starts one first, for the report header and --api auto's choice, and tells the workers (so every
process grades under the same profile, and a submission whose import hangs or crashes costs that only once). Per
check, here:
  - the deadline (nn_harness/run/deadlines.py, from impl/'s time for the check; --check-timeout / NN_CHECK_TIMEOUT
    for a flat one; end-to-end checks: pytest-timeout's --timeout) is the sandbox's: past it the sandbox is killed
    and the check fails as timed out;
  - a sandbox lost during a check (killed, crashed, over a limit) fails that check with the reason; the next check
    gets a new one;
  - afterwards the sandbox's memory map is read: a mapped torch, TensorFlow or JAX fails the check that was running
    and, in the controller, the submission's "uses NumPy only" check.
"""

from __future__ import annotations

import json
import os
import re
import sysconfig
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from nn_harness.grading.points import shown_name
from nn_harness.run import deadlines
from nn_harness.run.options import given, option
from nn_harness.sandbox import adapters, packages
from nn_harness.sandbox.adapters import profile as profiles
from nn_harness.sandbox.client import COPY_LIMIT, Hello, Limits, Sandbox, SandboxLost
from nn_harness.sandbox.imports import Settings
from nn_harness.sandbox.loading import required
from nn_harness.sandbox.notebook import Skip

STATE_ENV = "NN_STATE_DIR"  # set by the controller for its workers; internal
VERDICT_ENV = "NN_IMPORT_VERDICT"  # the controller's sandbox's Hello, for the workers; internal
DEFAULT_MEMORY_MB = 4096
FRAMEWORKS_PROPERTY = "frameworks"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def under_xdist(config: pytest.Config) -> bool:
    return is_worker(config) or bool(getattr(config.option, "numprocesses", None)) \
        and getattr(config.option, "dist", "no") != "no"


def state_dir() -> Path | None:
    value = os.environ.get(STATE_ENV)
    return Path(value) if value else None


def _float(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{what}: expected a number of seconds / megabytes, got {value!r}") from None


class Submission:
    """The implementation under test as the checks see it: `module` is its namespace, in the sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.target = sandbox.target

    @property
    def hello(self) -> Hello:
        return self.sandbox.hello or Hello(False, self.target, "the sandbox was not started")

    @property
    def module(self) -> Any:
        return self.sandbox.root if self.hello.ok else None

    @property
    def error(self) -> str | None:
        return self.hello.error

    def require(self, names: tuple[str, ...]) -> Any:
        """The namespace, when it defines every name; CheckFailure otherwise."""
        return required(shown_name(self.target), self.module if self.hello.ok else None, self.error, names)

    def loaded_files(self) -> list[str]:
        """The submission's source files the sandbox has loaded so far (its entry and what that imported)."""
        return self.sandbox.loaded_files() if self.hello.ok else []

    def service(self, name: str) -> Any:
        """A module of the harness's sandbox side (e.g. training), to run there beside the submission."""
        return self.sandbox.service(name)


def import_settings(config: pytest.Config, api: str | None = None) -> Settings:
    """What the sandbox offers the submission's imports: the course profile's [sandbox] table (`api`, else the
    requested one; under --api auto, before the profile is chosen, what any profile auto may choose offers, so the
    import that decides succeeds where one of them would allow it), with the option numpy_aliases in place of the
    profile's and the option allow added to the profile's. pytest.UsageError naming where a value came from when
    it is unusable (a package refused or not installed here)."""
    api = api or option(config, "api") or "native"
    try:
        courses = [p for p in adapters.profiles().values() if p.auto] if api == "auto" else [adapters.profile_for(api)]
    except adapters.ProfileError as error:
        raise pytest.UsageError(f"--api / NN_API: {error}") from None
    aliases = given(config, "numpy_aliases")
    if aliases not in (None, "true", "false"):
        raise pytest.UsageError(f"--numpy-aliases / NN_NUMPY_ALIASES: {aliases!r} is not true or false")
    sources = [(course.sandbox.allow, f"profile {course.source}: sandbox.allow") for course in courses]
    sources.append((packages.names(given(config, "allow")), "--allow / NN_ALLOW"))  # (an assignment's: checked at load)
    for names, where in sources:
        try:
            packages.resolve(names)
        except ValueError as error:
            raise pytest.UsageError(f"{where}: {error}") from None
    course_aliases = any(course.sandbox.numpy_aliases for course in courses)
    return Settings(numpy_aliases=course_aliases if aliases is None else aliases == "true",
                    allow=tuple(dict.fromkeys(name for names, _ in sources for name in names)))


class Isolation:
    """Registered in every process; the controller and the workers act by role."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.worker = is_worker(config)
        self.xdist = under_xdist(config)
        memory = _float(option(config, "memory_limit_mb") or DEFAULT_MEMORY_MB, "--memory-limit-mb")
        explicit = option(config, "check_timeout")
        self.check_timeout = _float(explicit, "--check-timeout") if explicit else None
        limits = Limits(memory_mb=memory, import_s=max(self.check_timeout or Limits.import_s, 5.0))
        self.sandbox = Sandbox(option(config, "impl"), option(config, "api") or "native", limits,
                               given(config, "notebook_cells"), import_settings(config))
        self.submission = Submission(self.sandbox)
        self.stuck: dict[str, str] = {}  # layer -> how it hung or ran out of memory first (its other checks fail at once)

    def start(self) -> None:
        if self.worker:
            verdict = json.loads(os.environ.get(VERDICT_ENV) or "{}")
            if verdict and not verdict.get("ok"):  # the controller's sandbox could not import it: neither can ours
                self.sandbox.hello = Hello(**verdict)
            if verdict.get("style"):
                self.sandbox.api = verdict["style"]
                self.sandbox.settings = import_settings(self.config, verdict["style"])
            return
        os.environ[STATE_ENV] = tempfile.mkdtemp(prefix="nn-harness-")  # inherited by the workers spawned later
        hello = self.sandbox.start()
        requested = option(self.config, "api") or "native"
        if requested == "auto" and hello.ok and hello.style in profiles.shipped_names():
            hello = self._settle(hello)
        # The sandbox's word is a choice among the shipped profiles (--api auto), never a file it could have written.
        hello.style = hello.style if requested == "auto" and hello.style in profiles.shipped_names() else \
            "native" if requested == "auto" else requested
        self.config.stash[HELLO_KEY] = hello
        os.environ[VERDICT_ENV] = json.dumps(asdict(hello))
        self.sandbox.api = hello.style  # --api auto: the profile it chose, for every restart too
        if self.xdist:
            self.sandbox.stop()  # the workers run the checks, each with a sandbox of its own

    def _settle(self, hello: Hello) -> Hello:
        """--api auto imported the submission with what any course allows; when the chosen course allows less
        (packages, NumPy's old aliases), the submission is imported again under the course's own settings, as
        `--api <course>` would: the verdict, and the reproduce line, are the course's."""
        settings = import_settings(self.config, hello.style)
        now = self.sandbox.settings
        if settings.numpy_aliases == now.numpy_aliases and set(settings.allow) == set(now.allow):
            return hello
        self.sandbox.stop()
        self.sandbox.settings = settings
        return self.sandbox.start()

    def stop(self) -> None:
        self.sandbox.stop()

    def timeout_for(self, item: pytest.Item) -> float | None:
        marker = item.get_closest_marker("timeout")
        if marker is not None and (marker.args or "timeout" in marker.kwargs):
            return float(marker.args[0] if marker.args else marker.kwargs["timeout"]) or None
        if self.check_timeout is not None:
            return self.check_timeout or None
        props = dict(item.user_properties)
        name = f"{props.get('layer')}: {props.get('check')}"
        if props.get("kind") == "end-to-end" and not deadlines.measured(name):  # training to a target: its budget's
            value = self.config.getoption("timeout", None) or self.config.getini("timeout")
            return float(value) if value else None
        return deadlines.deadline(name)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:
        props = dict(item.user_properties)
        layer = props.get("layer")
        for needed in (layer, *filter(None, props.get("needs", "").split(","))):  # a model: the layers it is built of
            stuck = self.stuck.get(needed) or self._stuck_elsewhere(needed)
            if stuck:  # it hung or blew its memory once in this run: one deadline is enough
                raise pytest.fail.Exception(f"{layer}: not run: {'' if needed == layer else needed + ' '}{stuck}",
                                            pytrace=False)
        if layer is not None:
            self.sandbox.begin(self.timeout_for(item))
        try:
            return (yield)
        except SandboxLost as lost:
            raise pytest.fail.Exception(str(lost), pytrace=False) from None

    def _note_stuck(self, item: pytest.Item) -> None:
        """A layer whose check hung past its deadline or was killed for its memory: remembered, so its other checks in
        this process fail at once."""
        props, reason = dict(item.user_properties), self.sandbox.lost or ""
        layer = props.get("layer")
        if layer not in (None, "Submission") and (reason.startswith(STUCK) or "killed by signal SIGKILL" in reason) \
                and layer not in self.stuck:
            self.stuck[layer] = f"in check {props.get('check', item.name)!r} it {reason.splitlines()[0]}"
            folder = state_dir()
            if folder is not None:  # the other workers' checks of the layer fail at once too
                (folder / f"stuck-{_file_name(layer)}.txt").write_text(self.stuck[layer])

    @staticmethod
    def _stuck_elsewhere(layer: str | None) -> str | None:
        """How the layer hung in another process of this run (the state folder), if it did."""
        folder = state_dir()
        if layer is None or folder is None:
            return None
        try:
            return (folder / f"stuck-{_file_name(layer)}.txt").read_text()
        except OSError:
            return None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        lost, requests = None, self.sandbox.requests
        try:
            result = yield
        except SandboxLost as error:
            lost = str(error)
        finally:  # also when the check failed with the loss as its own message
            self._note_stuck(item)
            if "layer" in dict(item.user_properties):  # a check of the suite (bench/speed.py sums them)
                item.user_properties.append(("sandbox requests", self.sandbox.requests - requests))
        props = dict(item.user_properties)
        if "layer" not in props:
            if lost:
                raise pytest.fail.Exception(lost, pytrace=False)
            return result
        found = self.sandbox.end()
        if found:
            item.user_properties.append((FRAMEWORKS_PROPERTY, ", ".join(found)))
            raise pytest.fail.Exception(
                f"the sandbox running the implementation has {', '.join(found)} mapped after this check: the "
                "implementation must use NumPy only (this check and the submission's NumPy-only check fail)",
                pytrace=False)
        if lost:
            raise pytest.fail.Exception(lost, pytrace=False)
        return result


def _file_name(layer: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", layer)


HELLO_KEY = pytest.StashKey[Hello]()
# How a lost sandbox's reason starts when the layer hung past its deadline or was killed for its memory: its other
# checks in this process then fail at once, naming the first (a hanging ReLU costs one deadline, not one per check).
STUCK = ("timed out after",)


def guard(config: pytest.Config) -> Isolation:
    return config.pluginmanager.get_plugin("nn-harness-isolation")


def hello(config: pytest.Config) -> Hello | None:
    """The controller's sandbox's report on the submission (in a worker: the one it was handed)."""
    found = config.stash.get(HELLO_KEY, None)
    if found is None and os.environ.get(VERDICT_ENV):
        found = Hello(**json.loads(os.environ[VERDICT_ENV]))
    return found


# A pytest worker that died (xdist reports it): the grader's own process, since the submission runs in a sandbox.
WORKER_DIED = ("the pytest worker running this check ended (the submission runs in a sandbox of its own, so this is "
               "the grader's process: out of memory, or killed from outside)")


def header_lines(config: pytest.Config, target: str, *, public: bool = False) -> list[str]:
    """The report header's implementation lines, from the controller's sandbox. `public` (results.json, what students
    see): the submission by its name and the sandbox's view without the grading machine's paths."""
    found = hello(config)
    target = shown_name(target) if public else target
    if found is None:
        return [f"implementation: {target} (not started)"]
    converted = guard(config).sandbox.converted
    cells = [converted.header([Skip(*entry) for entry in found.skipped])] if converted else []
    if not found.ok:
        lines = (found.error or "").strip().splitlines()
        why = lines[0] if lines and lines[0].startswith(("timed out", "the sandbox")) else lines[-1] if lines else ""
        return [f"implementation: {target} (IMPORT FAILED{': ' + why if why else ''})", *cells]
    who = f"uid {found.uid}" if found.uid is not None else "the grader's uid (not root)"
    imports = _import_lines(found, guard(config).sandbox)
    if public:
        return [f"implementation: {target}", *cells, *found.header, f"sandbox: {who}, {_public_view(found.view)}",
                *imports]
    return [f"implementation: {target} ({found.origin})", *cells, *found.header, f"sandbox: {who}, {found.view}",
            *imports]


def _import_lines(found: Hello, sandbox: Sandbox) -> list[str]:
    """What the submission's imports found in the sandbox: NumPy's old aliases, the packages allowed, the stand-ins
    given for the ones it lacks; and what of the submission's folder was left out of its copy."""
    lines = []
    if sandbox.settings.numpy_aliases:
        restored = ", ".join(f"np.{name}" for name in found.aliases) or "none (this NumPy has them all)"
        lines.append(f"numpy aliases: {restored} restored as the builtins (code written for NumPy < 1.24)")
    allowed = packages.resolve(sandbox.settings.allow).shown
    if allowed:
        lines.append("allowed packages: " + ", ".join(
            name + (f" (with {', '.join(needs)})" if needs else "") for name, needs in allowed.items()))
    if found.stand_ins:
        lines.append("imports the sandbox has no module for (only what uses them fails): " + ", ".join(
            f"{name} ({where}, {why})" for name, where, why in found.stand_ins))
    if sandbox.not_copied:
        shown = sandbox.not_copied[:10] + [f"and {len(sandbox.not_copied) - 10} more"] * (len(sandbox.not_copied) > 10)
        lines.append(f"not copied into the sandbox (over its {COPY_LIMIT // 2**20} MB): {', '.join(shown)}")
    return lines


def _public_view(view: str) -> str:
    """What the sandbox sees, with the grading machine's own folders (the standard library's, a checkout's) named by
    what they are: only the system's usual paths are shown as they are."""
    stdlib = sysconfig.get_paths()["stdlib"]
    view = view.replace(stdlib, "the standard library")
    return re.sub(r"/[^\s,():]+", lambda m: m[0] if m[0].split("/")[1] in ("lib", "lib64", "usr", "etc", "dev", "bin")
                  else "(a folder)", view)
