"""The buggy native example fails exactly the layers of its bugs (plus the layers it does not implement), each with
a hint that names the bug; every other layer passes."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,  # runs the suite in subprocesses: CI runs these with -m slow
              pytest.mark.xdist_group("examples")]  # with --dist loadgroup (CI's): one worker, `outcomes` runs once

ROOT = Path(__file__).resolve().parents[2]
BUGGY = ROOT / "examples" / "native_buggy" / "layers.py"
# layer: a phrase its failures must contain (the hint or message that names the bug)
BUGS = {
    "Linear": "a parameter gradient sums over the batch",
    "Sequential": "a parameter gradient sums over the batch",  # it chains the buggy Linear
    "ReLU": "forward modified its input in place",
    "Softmax": "an overflow",
    "Dropout": "= 1-p",
    "MSELoss": "a mean over the batch instead of over all elements",
}
NOT_IMPLEMENTED = {"Conv2d", "MaxPool2d", "LeakyReLU", "ELU", "Softplus", "BatchNorm1d", "Adam", "CNN end to end",
                   "GELU", "AvgPool2d", "BatchNorm2d", "LayerNorm", "GroupNorm", "Embedding", "RNNCell", "LSTMCell", "RNN",
                   "LSTM", "TemporalLinear", "TemporalCrossEntropyLoss", "ProbabilityNLLLoss"}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    junit = tmp_path_factory.mktemp("buggy") / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"),
                    "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-n", "2", "-q", "--impl", str(BUGGY),
                    "--profile", "dev", f"--junitxml={junit}"], capture_output=True, text=True, cwd=ROOT, timeout=900)
    failures = defaultdict(list)
    passed = defaultdict(int)
    for case in ET.parse(junit).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        failure = case.find("failure")
        if failure is not None:
            failures[props["layer"]].append(failure.get("message", "") + (failure.text or ""))
        else:
            passed[props.get("layer")] += 1
    return failures, passed


def test_exactly_the_buggy_and_missing_layers_fail(outcomes):
    failures, _ = outcomes
    assert set(failures) == set(BUGS) | NOT_IMPLEMENTED


@pytest.mark.parametrize("layer", BUGS)
def test_each_bug_is_named(outcomes, layer):
    failures, _ = outcomes
    assert any(BUGS[layer] in text for text in failures[layer]), failures[layer][0][:2000]


@pytest.mark.parametrize("layer", sorted(NOT_IMPLEMENTED))
def test_missing_layers_are_not_implemented(outcomes, layer):
    failures, passed = outcomes
    assert all("not implemented" in text for text in failures[layer]) and passed[layer] == 0
