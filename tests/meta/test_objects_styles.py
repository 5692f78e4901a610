"""The objects driver's three course styles (layer-objects, dict-grads, single-sample), each on its shipped profile:
the correct example passes every check the profile grades and the others are skipped with the profile's reason;
the buggy example fails only the layer of its one bug, with a readable message; --api auto picks the profile."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from nn_harness.grading import points
from nn_harness.sandbox import adapters

pytestmark = pytest.mark.slow  # runs the suite in subprocesses: CI runs these with -m slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STYLES = {"layer_objects": "layer-objects", "dict_grads": "dict-grads", "single_sample": "single-sample"}
# example -> (the layer of its bug, phrases its failures must contain: what the bug does, named readably)
BUGS = {
    "layer_objects": ("Linear", ("grad of weight differs", "every element is off by the same factor")),
    "dict_grads": ("Linear", ("Dense.backward left b['grad'] = an array of shape", "expected an array of shape")),
    "single_sample": ("Linear", ("grad of input differs",)),
}


def run_suite(folder: str, api: str, junit: Path) -> dict[str, list[tuple[str, str, str | None]]]:
    """The suite on an example: per layer, (check, outcome, message) for every test case of the JUnit XML."""
    process = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"),
         "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-n", "2", "-q", "--impl", str(EXAMPLES / folder),
         "--api", api, "--profile", "dev", f"--junitxml={junit}"],
        capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert junit.is_file(), process.stdout[-3000:] + process.stderr[-3000:]
    outcomes = defaultdict(list)
    for case in ET.parse(junit).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        layer = props.get("layer") or case.get("name")
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcomes[layer].append((props.get("check", ""), tag, element.get("message", "") + (element.text or "")))
                break
        else:
            outcomes[layer].append((props.get("check", ""), "passed", None))
    return outcomes


@pytest.mark.parametrize("style", STYLES)
def test_correct_example_passes_everything_its_profile_grades(style, tmp_path):
    profile = adapters.profiles()[STYLES[style]]
    outcomes = run_suite(f"{style}_correct", STYLES[style], tmp_path / "junit.xml")
    problems = []
    for layer, cases in outcomes.items():
        for check, outcome, message in cases:
            reason = points.not_graded(profile, layer, check)
            if reason is None and outcome != "passed":
                problems.append(f"{layer}: {check}: {outcome}: {(message or '')[:800]}")
            if reason is not None and (outcome != "skipped" or reason not in (message or "")):
                problems.append(f"{layer}: {check}: not graded ({reason}) but {outcome}")
    assert not problems, "\n".join(problems)
    for layer in profile.names:  # every layer the profile maps is graded on something, and passes it
        assert any(outcome == "passed" for _, outcome, _ in outcomes[layer]), f"{layer}: nothing graded"
    for layer in profile.unexpressible:
        assert outcomes[layer] and all(outcome == "skipped" for _, outcome, _ in outcomes[layer]), layer


@pytest.mark.parametrize("style", STYLES)
def test_buggy_example_fails_only_its_bug(style, tmp_path):
    outcomes = run_suite(f"{style}_buggy", STYLES[style], tmp_path / "junit.xml")
    failed = {layer: [message for _, outcome, message in cases if outcome in ("failure", "error")]
              for layer, cases in outcomes.items()}
    failed = {layer: messages for layer, messages in failed.items() if messages}
    layer, phrases = BUGS[style]
    assert set(failed) == {layer}, {name: messages[0][:1500] for name, messages in failed.items()}
    assert any(f"{layer}: backward matches torch" in message for message in failed[layer])
    assert any(all(phrase in message for phrase in phrases) for message in failed[layer]), failed[layer][0][:2000]
    assert all("Traceback" not in message for message in failed[layer]), failed[layer][0][:2000]


@pytest.mark.parametrize("folder", [f"{style}_{kind}" for style in STYLES for kind in ("correct", "buggy")])
def test_auto_picks_the_profile(folder):
    process = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"),
         "--rootdir", str(ROOT), "-p", "no:cacheprovider", "--collect-only", "--impl", str(EXAMPLES / folder),
         "--api", "auto"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    style = STYLES[folder.rsplit("_", 1)[0]]
    header = next((line for line in process.stdout.splitlines() if line.startswith("api: ")), process.stdout[-2000:])
    assert f"api: {style} (" in process.stdout, header
