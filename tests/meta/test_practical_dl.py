"""The practical_dl examples (camelCase and snake_case) and the class-like bank of tests/meta/practical_dl_class,
graded under their course profiles: a correct submission passes every check the profile grades (the checks it does
not grade are skipped), a buggy one fails exactly the checks of its buggy layer (and of the rows ALSO_FAILS lists,
built on that layer), each with a readable message; --api auto picks the right profile."""

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from nn_harness.training.recipes import MODEL_NEEDS
from tests.meta.mutants import Mutant
from tests.meta.practical_dl_class import ALSO_FAILS, BUGGY, CORRECT

pytestmark = pytest.mark.slow  # runs the suite in subprocesses: CI runs these with -m slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Submission:
    name: str
    api: str
    fails: frozenset[str]  # the verdict rows (layers, "CNN end to end", ...) that must fail; every other one passes
    end_to_end: bool = True  # train the MNIST models too (only where the submission changes a layer they use)
    mutant: Mutant | None = None  # a bank member: edits to examples/practical_dl_correct


EXAMPLE_RUNS = [
    Submission("practical_dl_correct", "practical_dl", frozenset()),
    Submission("practical_dl_buggy", "practical_dl", frozenset({"Conv2d"})),  # the bias gradient barely slows the CNN
    Submission("practical_dl_snake_correct", "practical_dl_snake", frozenset()),
    Submission("practical_dl_snake_buggy", "practical_dl_snake", frozenset({"BatchNorm1d"})),
]


def _uses_a_model_layer(mutant: Mutant) -> bool:
    layers = set(re.findall(r"\w+", mutant.layer)) | set(ALSO_FAILS.get(mutant.name, ()))
    return bool(layers & {name for needs in MODEL_NEEDS.values() for name in needs})


BANK_RUNS = [
    *(Submission(m.name, "practical_dl", frozenset(), _uses_a_model_layer(m), m) for m in CORRECT),
    *(Submission(m.name, "practical_dl", frozenset({m.layer, *ALSO_FAILS.get(m.name, ())}), _uses_a_model_layer(m), m)
      for m in BUGGY),
]


def materialise(submission: Submission, destination: Path) -> Path:
    """The example folder itself, or a copy of examples/practical_dl_correct with the bank member's edits."""
    if submission.mutant is None:
        return EXAMPLES / submission.name
    folder = destination / submission.name
    shutil.copytree(EXAMPLES / "practical_dl_correct", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for file, old, new in submission.mutant.edits:
        path = folder / file
        text = path.read_text()
        if text.count(old) != 1:
            pytest.fail(f"bank member {submission.name} no longer applies: {old[:200]!r} occurs {text.count(old)} "
                        f"times in examples/practical_dl_correct/{file}")
        path.write_text(text.replace(old, new))
    return folder


@dataclass
class Outcome:
    stdout: str
    failures: dict[str, list[tuple[str, str]]]  # row -> (check, message) of each failed check
    passed: dict[str, int]
    skipped: dict[str, int]  # not graded under the profile
    results: dict


def grade(target: Path, api: str, folder: Path, *extra: str) -> Outcome:
    junit, results = folder / "junit.xml", folder / "results.json"
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"),
               "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-p", "no:xdist", "--impl", str(target),
               "--api", api, "--profile", "dev", f"--junitxml={junit}", "--grade-json", str(results), *extra]
    # The embedded MNIST subset: these runs judge verdicts, not how fast a loop-written homework trains on full MNIST
    # (a loop Conv2d can need more than the end-to-end budget for its 2 full epochs on a loaded 2-core machine).
    env = {k: v for k, v in os.environ.items() if k != "MNIST_DIR"}
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=1800, env=env)
    assert junit.exists(), f"no JUnit XML from the suite:\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    failures, passed, skipped = defaultdict(list), defaultdict(int), defaultdict(int)
    data = json.loads(results.read_text())
    # A check beyond the course (worth 0) is no finding: only its results.json entry says so
    beyond = {test["name"] for test in data["tests"] if "beyond the course" in test.get("tags", ())}
    for case in ET.parse(junit).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        row = props.get("layer", case.get("name"))
        if f"{row}: {props.get('check')}" in beyond:
            continue
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            failures[row].append((props.get("check", case.get("name")),
                                  (problem.get("message") or "") + "\n" + (problem.text or "")))
        elif case.find("skipped") is not None:
            skipped[row] += 1
        else:
            passed[row] += 1
    return Outcome(run.stdout, failures, passed, skipped, data)


def unreadable(row: str, message: str) -> str | None:
    """Why a failure message is not one a student can read, or None: it must be the harness's own report (the
    check's title first, then what differs), not a Python traceback."""
    if "Traceback (most recent call last)" in message or re.search(r"^E\s{3}", message, re.MULTILINE):
        return "a Python traceback"
    if re.search(r"^\s*def test_", message, re.MULTILINE):
        return "pytest's dump of the test's source"
    if not message.strip():
        return "empty"
    if len(message) > 6000:
        return f"{len(message)} characters long"
    if row not in message:
        return f"it does not name {row}"
    return None


@pytest.mark.parametrize("submission", [*EXAMPLE_RUNS, *BANK_RUNS], ids=lambda s: s.name)
def test_fails_exactly_its_buggy_layer(submission, tmp_path):
    extra = () if submission.end_to_end else ("-m", "not end_to_end")
    result = grade(materialise(submission, tmp_path), submission.api, tmp_path, *extra)
    assert result.passed or result.failures, f"nothing ran:\n{result.stdout[-3000:]}"
    shown = {row: [check for check, _ in checks] for row, checks in result.failures.items()}
    # A model built with the buggy layer may miss its target too (it chains the bug, as the issue allows): whether a
    # mild bug still trains to the target is the recipe's margin, not the layer's verdict.
    chained = {f"{model.upper()} end to end" for model, needs in MODEL_NEEDS.items() if submission.fails & set(needs)}
    assert submission.fails <= set(result.failures) <= submission.fails | chained, (
        f"{submission.name}: expected failures in {sorted(submission.fails) or 'no row'}, got {shown}")
    for row in submission.fails:  # the buggy layer's rows fail, and are graded at all
        assert result.passed[row] + len(result.failures[row]) > 0
    if not submission.fails:
        assert result.results["score"] == result.results["max_score"] > 0, result.results["output"][:2000]
    else:
        assert result.results["score"] < result.results["max_score"]
    for row, checks in result.failures.items():
        for check, message in checks:
            why = unreadable(row, message)
            assert why is None, f"{submission.name}: the failure of {row}: {check} is not readable ({why}):\n{message[:3000]}"
    # What the profile does not grade is skipped, never failed: course-supplied code and what the style cannot express;
    # the contract's rules the course does not ask for (gradients accumulate, float32) run for 0 points.
    for row in ("ReLU", "Flatten", "MSELoss", "SGD", "Adam"):
        assert result.skipped[row] > 0 and result.passed[row] == 0 and row not in result.failures, row
    beyond = {test["name"] for test in result.results["tests"] if "beyond the course" in test.get("tags", ())}
    assert {"Linear: gradients accumulate", "Conv2d: float32 preserved"} <= beyond


def test_bank_members_each_have_their_own_layer():
    layers = [m.layer for m in BUGGY]
    assert len(set(layers)) == len(layers) and not {"Conv2d", "BatchNorm1d"} & set(layers)  # the examples' bugs
    assert len(CORRECT) >= 3 and len(BUGGY) >= 5


@pytest.mark.parametrize(("example", "style"), [("practical_dl_correct", "practical_dl"),
                                                ("practical_dl_snake_correct", "practical_dl_snake")])
def test_auto_detects_the_course(example, style, tmp_path):
    result = grade(EXAMPLES / example, "auto", tmp_path, "-m", "Linear")
    header = f"api: {style} ("
    assert header in result.stdout, result.stdout[:3000]
    assert header in result.results["output"], result.results["output"][:3000]
    assert not result.failures and result.passed["Linear"] > 0
