"""The pytest plugin: the options' checks, the report header, per-layer markers, and the `verify` fixture.

Every option can also be set by an environment variable (shown in --help); the command line wins.
"""

import dataclasses
import os
import sys
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Flaky

from nn_harness.cases import profiles
from nn_harness.cases.layer_case import LayerCase, layer_cases
from nn_harness.cases.narrowing import narrowed as profile_narrowing
from nn_harness.cases.registry import SPECS, CriterionSpec, LayerSpec, OptimizerSpec
from nn_harness.checks.compare import CheckFailure
from nn_harness.grading import points
from nn_harness.report import provenance, repro
from nn_harness.run import deadlines, quick_exit, session_sandbox, suite
from nn_harness.run.options import OPTIONS, assignment_of, option
from nn_harness.sandbox import adapters, notebook
from nn_harness.sandbox.client import SandboxLost, flush
from nn_harness.training import data

Spec = LayerSpec | CriterionSpec | OptimizerSpec


def one_torch_thread() -> None:
    """The twins run on one thread (unless OMP_NUM_THREADS says otherwise): on the small tensors hypothesis draws, torch's
    intra-op pool only adds overhead, and its idle threads spin on the cores that the sandbox and the other workers
    (-n, grade-all --jobs) need. Six course-bank homeworks, grade-all --jobs 2 on 2 cores: 82 s on torch's default
    threads, 50 s on one. Set before torch is imported (it reads the variable then, and xdist's workers inherit it);
    a warm grader imported torch already, so its runs set the pool itself."""
    threads = os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(threads) if threads.isdigit() and int(threads) > 0 else 1)


def pytest_configure(config: pytest.Config) -> None:
    profile = option(config, "profile")
    if profile not in profiles.PROFILES:
        raise pytest.UsageError(f"--profile / NN_PROFILE: unknown profile {profile!r} (one of {', '.join(profiles.PROFILES)})")
    try:
        profiles.counts(option(config, "examples"))
    except ValueError as error:
        raise pytest.UsageError(f"--examples / NN_EXAMPLES: {error}") from None
    if option(config, "api") != "auto":
        try:
            adapters.adapter_for(adapters.profile_for(option(config, "api")))
        except adapters.ProfileError as error:
            raise pytest.UsageError(f"--api / NN_API: {error}") from None
    try:
        notebook.validate(option(config, "notebook_cells"))
    except ValueError as error:
        raise pytest.UsageError(f"--notebook-cells / NN_NOTEBOOK_CELLS: {error}") from None
    if option(config, "grade_over") not in points.GRADE_OVER:
        raise pytest.UsageError(f"--grade-over / NN_GRADE_OVER: {option(config, 'grade_over')!r} is not one of "
                                f"{', '.join(points.GRADE_OVER)}")
    if hasattr(config, "workerinput"):  # an xdist worker: its results are the controller's once it is told to end
        quick_exit.at_exit()
    one_torch_thread()
    # hypothesis caches what it reads from source files (constants) in ./.hypothesis: not in the caller's folder.
    set_hypothesis_home_dir(data.cache_folder() / "hypothesis")
    profiles.load(profile)
    for name in SPECS:
        config.addinivalue_line("markers", f"{name}: checks of {name} (select with -m {name})")
    config.addinivalue_line("markers", "end_to_end: models trained on MNIST from the implementation's own layers")
    config.addinivalue_line("markers", "graded(name): a graded check of the submission as a whole, under `name`")


def pytest_report_header(config: pytest.Config) -> list[str]:
    # From the controller's sandbox (nn_harness/run/session_sandbox.py): the process writing the report never runs the submission.
    impl_lines = session_sandbox.header_lines(config, option(config, "impl"))
    return [impl_lines[0],
            f"hypothesis profile: {option(config, 'profile')}; numpy {np.__version__}, torch {version('torch')}",
            f"mnist: {data.describe(option(config, 'mnist_dir'))}",
            f"check deadline: {option(config, 'check_timeout')} s each (--check-timeout)" if option(config, "check_timeout")
            else deadlines.describe(),
            *([assignment_of(config).header()] if assignment_of(config) else []),
            *impl_lines[1:]]


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Quiet runs (-q; nn-harness runs quiet) drop pytest's header, and with it how the submission was read (the
    profile and why, the conventions converted, what it cannot express, the data): those lines are printed anyway."""
    config = session.config
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if config.get_verbosity() < 0 and reporter is not None and not session_sandbox.is_worker(config):
        for line in pytest_report_header(config):
            reporter.write_line(line)


def style(config: pytest.Config) -> str:
    """The profile in use: as requested, or the one the controller's sandbox chose for --api auto (so every process
    grades under the same profile)."""
    api = option(config, "api")
    if api == "auto":
        found = session_sandbox.hello(config)
        return found.style if found is not None and found.ok else "native"
    return api


def course_profile(config: pytest.Config) -> adapters.Profile:
    """The course profile as it applies to this submission: each layer's template-year variant that the sandbox
    found in its own constructors, the [optional] layers it does not define at all (not in its template), and the
    [track] layers it leaves as the template's skeleton. The sandbox's word only picks among what the profile
    declares; what takes a layer out of the grade is checked against the source, parsed here and never run (a
    skeleton is read from it; a layer whose class the source defines is never absent)."""
    course = adapters.profile_for(style(config))
    found = session_sandbox.hello(config)
    chosen = {layer: name for layer, name in (found.variants if found else {}).items()
              if layer in course.variants and (name == "" or name in course.variants[layer])}
    source = provenance.source_statements(option(config, "impl"), option(config, "notebook_cells")) \
        if course.optional or course.track else []
    defined = adapters.defined_in(source)
    absent = [layer for layer in (found.absent if found else ())
              if not defined & set(course.names.get(layer, (layer,)))]
    return course.with_variants(chosen).without(absent, adapters.unfilled_in(source, course))


@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config) -> adapters.Profile:
    return course_profile(pytestconfig)


@pytest.fixture(scope="session")
def implementation(pytestconfig: pytest.Config) -> session_sandbox.Submission:
    """The submission, adapted to the contract by its profile, in the sandbox (nn_harness/sandbox/client.py)."""
    return session_sandbox.guard(pytestconfig).submission


class Verifier:
    """Runs one check over hypothesis-drawn cases and turns its failure into one readable report."""

    def __init__(self, impl: session_sandbox.Submission, profile: adapters.Profile, request: pytest.FixtureRequest) -> None:
        self.impl, self.profile, self.request = impl, profile, request

    def __call__(self, spec: Spec, check: Callable[[Any, Any], None],
                 cases: Callable[[Spec], st.SearchStrategy] = layer_cases) -> None:
        """`check(implementation, case)` on every case `cases(spec)` draws; the shrunk failing case is reported.

        The course profile may leave the check out (not expressible in its style, not in the course's rules: the
        check is not graded) or narrow the cases to what the course can state and asks for (constructor arguments,
        hyper-parameter ranges, input ranks, modes), so a correct submission is graded on every case it can state.
        """
        names = spec.needs
        self._skip_if_not_graded(spec.name)
        module = self._require(names, check)
        narrowed = profile_narrowing(self.profile, spec, self._check_name())
        cases = cases(dataclasses.replace(spec, **narrowed) if narrowed else spec)
        seen: list[Any] = []

        @self._examples()
        @given(case=cases)
        def prop(case: Any) -> None:
            seen.append(case)
            try:
                check(module, case)
                flush(module)  # a deferred call's failure is this case's
            except CheckFailure:
                first.append(len(seen))
                raise

        first: list[int] = []
        try:
            self._report(names, check, prop, lambda: seen[-1])
        finally:  # in the JUnit report: what the check drew, and at which it first failed (bench/kill_curve.py)
            self.request.node.user_properties.append(("examples drawn", len(seen)))
            if first:
                self.request.node.user_properties.append(("first failing example", first[0]))

    def once(self, names: tuple[str, ...], check: Callable[..., None], *args: Any) -> None:
        """`check(implementation, *args)` once: for statistical checks with a fixed sample size."""
        self._skip_if_not_graded(names[0])
        module = self._require(names, check)
        self._report(names, check, lambda: check(module, *args), lambda: f"{names[0]}({', '.join(map(repr, args))})")

    def _examples(self) -> settings:
        """The profile's settings; the check draws its count (nn_harness/cases/profiles.py); a check beyond the course (worth
        nothing) reports the first failing case it finds, unshrunk: shrinking one took most of a run's time."""
        config = self.request.config
        found = {"max_examples": profiles.examples_for(self._check_name(), option(config, "profile"),
                                                       profiles.counts(option(config, "examples")))}
        layer = dict(self.request.node.user_properties).get("layer", "")
        if points.beyond(self.profile, layer, self._check_name(), option(self.request.config, "grade_over")):
            found["phases"] = (Phase.explicit, Phase.reuse, Phase.generate)
        return settings(**found)

    def _check_name(self) -> str:
        return dict(self.request.node.user_properties).get("check", "")

    def _skip_if_not_graded(self, layer: str) -> None:
        """A check the profile does not grade never runs (the controller records it as not graded itself)."""
        reason = points.not_graded(self.profile, layer, self._check_name())
        if reason:
            pytest.skip(reason)

    def _require(self, names: tuple[str, ...], check: Callable[..., None]) -> Any:
        try:
            return self.impl.require(names)
        except CheckFailure as failure:
            message = f"{names[0]}: {_title(check)}\n{failure}"
        if self.impl.module is not None and not hasattr(self.impl.module, names[0]):  # the layer itself is missing
            self.request.node.user_properties.append((points.NOT_IMPLEMENTED, names[0]))
        pytest.fail(message, pytrace=False)

    def _report(self, names: tuple[str, ...], check: Callable[..., None], run: Callable[[], None],
                case: Callable[[], str]) -> None:
        try:
            run()
            return
        except SandboxLost as lost:
            message = f"{names[0]}: {_title(check)}\n  on: {_shown(case)}\n{lost}"
        except Flaky as flaky:  # failed once, passed when hypothesis ran the same case again
            message = (f"{names[0]}: {_title(check)}\n  on: {_shown(case)}\n{_first_failure(flaky)}\n  and the same case "
                       "passed when it was run again: the layer gives different results for the same input (is it "
                       f"random, or does it keep state between calls?)\n"
                       f"  reproduce: pytest{reproduce_flags(self.request.config)} '{self.request.node.nodeid}'")
        except CheckFailure as failure:
            message = (f"{names[0]}: {_title(check)}\n  on: {case()}\n{failure}\n"
                       f"  reproduce: pytest{reproduce_flags(self.request.config)} '{self.request.node.nodeid}'")
            message += self._save_repro(check, case)
        pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback in the report


    def _save_repro(self, check: Callable[..., None], case: Callable[[], Any]) -> str:
        folder = option(self.request.config, "repro_dir")
        if not folder or not isinstance(case(), LayerCase):
            return ""
        sandbox = self.impl.sandbox  # its notebook conversion and import settings are the trusted side's
        script = repro.save(case(), _title(check), option(self.request.config, "impl"), folder,
                            style=style(self.request.config), converted=sandbox.converted,
                            numpy_aliases=sandbox.settings.numpy_aliases)
        return f"\n  or without the suite: python {repro.shown(script)}"


def _first_failure(flaky: BaseException) -> str:
    """The check's own message inside hypothesis's Flaky report (an exception group of the failures it saw)."""
    for error in getattr(flaky, "exceptions", ()):
        if isinstance(error, CheckFailure):
            return str(error)
    return str(flaky).splitlines()[0]


def _shown(case: Callable[[], Any]) -> str:
    try:
        return str(case())
    except IndexError:  # lost before the first case was drawn
        return "(before the first case)"


def reproduce_flags(config: pytest.Config, *, public: bool = False) -> str:
    """The reproduce line's options: --impl, the assignment file and the profile, as given to this run (the line
    runs where this run ran); `public`: by their names (results.json: never a path of the grading machine)."""
    def named(path: str) -> str:
        return points.shown_name(path) if public else path

    homework, api = option(config, "assignment"), style(config)
    flags = "".join(f" -p {name}" for name in given_plugins(config))
    flags += f" --impl {named(option(config, 'impl'))}"
    flags += f" --assignment {named(homework)}" if homework else ""
    for name in ("numpy_aliases", "allow"):  # given outside the assignment file: whether the submission imports at all
        value = config.getoption(name) or os.environ.get(OPTIONS[name][0])
        flags += f" --{name.replace('_', '-')} {value}" if value else ""
    return flags + ("" if api == "native" else f" --api {named(api) if api.endswith('.toml') else api}")


def given_plugins(config: pytest.Config) -> list[str]:
    """The plugins this run was given with -p (a course's own, say), but not those every suite run blocks."""
    args = [str(arg) for arg in config.invocation_params.args]
    names = [after for arg, after in zip(args, [*args[1:], ""]) if arg == "-p"]
    names += [arg[2:] for arg in args if arg.startswith("-p") and len(arg) > 2 and not arg.startswith("-p=")]
    return [name for name in names if name and name not in suite.QUIET_PLUGINS]


def _title(check: Callable[..., None]) -> str:
    return check.__name__.replace("_", " ")


@pytest.fixture
def verify(implementation: session_sandbox.Submission, profile: adapters.Profile, request: pytest.FixtureRequest) -> Verifier:
    return Verifier(implementation, profile, request)
