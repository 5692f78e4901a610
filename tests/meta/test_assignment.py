"""The assignment file (nn_harness/grading/assignment.py) and what students see of a grading run (results.json, exit codes).

Fast: loading and validation (every error names the file and the key), the options' precedence, visibility, the
report's order, the exit codes. Slow (`-m slow`): `python -m nn_harness` in a subprocess, as Gradescope runs it.
"""

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nn_harness.grading import assignment, points
from nn_harness.grading.points import Check, Weights
from nn_harness.run import cli
from nn_harness.run.options import OPTIONS, given, option, weights_of
from tests.meta.in_process import FakeConfig

ROOT = Path(__file__).resolve().parents[2]

FULL = """
[assignment]
name = "HW2: backprop by hand"
layers = ["Linear", "ReLU", "Softmax", "MSELoss", "MLP end to end"]
api = "practical_dl"
profile = "grading"
check_timeout = 60
memory_limit_mb = 4096
grade_over = "expressible"
notebook_cells = "definitions"
mnist_dir = "data/mnist"

[points]
forward = 2
backward = 2
"finite differences" = 2
contract = 1
statistical = 1
end-to-end = 5

[layers.Conv2d]
forward = 4

[visibility]
default = "visible"
"end-to-end" = "after_published"
Conv2d = "hidden"
"""


def write(tmp_path: Path, text: str, name: str = "hw2.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    for name in [k for k in os.environ if k.startswith("NN_") or k == "MNIST_DIR"]:
        monkeypatch.delenv(name)


# ---------------------------------------------------------------------------------------------------- loading

def test_the_documented_example_loads(tmp_path):
    found = assignment.load(write(tmp_path, FULL), OPTIONS)
    assert found.name == "HW2: backprop by hand"
    assert found.layers == ("Linear", "ReLU", "Softmax", "MSELoss", "MLP end to end")
    assert found.options["api"] == "practical_dl" and found.options["check_timeout"] == "60"
    assert found.options["memory_limit_mb"] == "4096" and found.options["profile"] == "grading"
    assert found.options["mnist_dir"] == str(tmp_path / "data" / "mnist"), "relative to the assignment file"
    assert found.weights.of("Conv2d", "forward") == 4 and found.weights.of("Conv2d", "backward") == 2
    assert found.weights.of("Linear", "end-to-end") == 5
    assert found.visibility == {"default": "visible", "end-to-end": "after_published", "Conv2d": "hidden"}
    assert found.graded("Linear") and found.graded("Submission") and not found.graded("Conv2d")
    assert found.header() == (f"assignment: HW2: backprop by hand ({tmp_path / 'hw2.toml'}), 5 layers graded: "
                              "Linear, ReLU, Softmax, MSELoss, MLP end to end")
    assert str(tmp_path) not in found.header(public=True)


def test_a_minimal_file_grades_everything_with_the_default_weights(tmp_path):
    found = assignment.load(write(tmp_path, "[assignment]\n"), OPTIONS)
    assert found.name == "hw2" and found.layers is None and found.weights is None and found.visibility == {}
    assert found.graded("BatchNorm1d") and "all layers graded" in found.header()


def test_layer_overrides_without_points_keep_the_default_points(tmp_path):
    found = assignment.load(write(tmp_path, "[layers.Conv2d]\nforward = 7\n"), OPTIONS)
    assert found.weights.of("Conv2d", "forward") == 7
    assert found.weights.of("Linear", "forward") == points.load_weights(None).of("Linear", "forward")


BAD = [  # (file text, the key the error must name)
    ("[assignment]\nname = 'x'\n[extra]\na = 1\n", "extra"),
    ("[assignment]\nspeed = 3\n", "[assignment] speed"),
    ("[assignment]\nassignment = 'other.toml'\n", "[assignment] assignment"),
    ("[assignment]\nname = 3\n", "[assignment] name"),
    ("[assignment]\ncheck_timeout = 'soon'\n", "[assignment] check_timeout"),
    ("[assignment]\nmemory_limit_mb = -1\n", "[assignment] memory_limit_mb"),
    ("[assignment]\ncheck_timeout = true\n", "[assignment] check_timeout"),
    ("[assignment]\nprofile = 3\n", "[assignment] profile"),
    ("[assignment]\nprofile = 'fast'\n", "[assignment] profile"),
    ("[assignment]\ngrade_over = 'everything'\n", "[assignment] grade_over"),
    ("[assignment]\nnotebook_cells = 'some'\n", "[assignment] notebook_cells"),
    ("[assignment]\napi = 'no_such_course'\n", "[assignment] api"),
    ("[assignment]\nlayers = 'Linear'\n", "[assignment] layers"),
    ("[assignment]\nlayers = []\n", "[assignment] layers"),
    ("[assignment]\nlayers = ['Linear', 'Linaer']\n", "[assignment] layers"),
    ("[assignment]\nweights = 'w.toml'\n[points]\nforward = 1\n", "[assignment] weights"),
    ("[points]\nforward = 2\n", "[points]"),
    ("[points]\nforward = -2\nbackward = 2\n'finite differences' = 2\ncontract = 1\nstatistical = 1\n"
     "end-to-end = 5\n", "[points] forward"),
    ("[layers.Conv2d]\nspeedy = 1\n", "[layers.Conv2d]"),
    ("[layers.Conv2D]\nforward = 1\n", "[layers.Conv2D]"),
    ("[visibility]\nLinear = 'secret'\n", "[visibility] Linear"),
    ("[visibility]\nspeed = 'hidden'\n", "[visibility] speed"),
    ("[visibility]\ndefault = 1\n", "[visibility] default"),
    ("[visibility]\nzero_points = 'invisible'\n", "[visibility] zero_points: 'invisible' is not one of visible, "
                                                   "hidden, after_due_date, after_published"),
    ("visibility = 'hidden'\n", "visibility"),
]


@pytest.mark.parametrize(("text", "key"), BAD, ids=[f"{i}-{key}" for i, (_, key) in enumerate(BAD)])
def test_an_invalid_file_is_a_usage_error_naming_the_file_and_the_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(pytest.UsageError) as error:
        assignment.load(path, OPTIONS)
    message = str(error.value)
    assert message.startswith("--assignment / NN_ASSIGNMENT: ") and str(path) in message, message
    assert key in message, message


def test_unreadable_or_not_toml(tmp_path):
    with pytest.raises(pytest.UsageError, match="cannot read .*missing.toml"):
        assignment.load(tmp_path / "missing.toml", OPTIONS)
    with pytest.raises(pytest.UsageError, match="not valid TOML"):
        assignment.load(write(tmp_path, "[assignment\n"), OPTIONS)


def test_weights_files_reject_unknown_layers_too(tmp_path):
    """The weights loader and the assignment share one validation (points.weights_from)."""
    text = points.DEFAULT_WEIGHTS.read_text() + "\n[layers.Conv2D]\nforward = 4\n"
    with pytest.raises(pytest.UsageError, match=r"--weights / NN_WEIGHTS: .*w.toml: \[layers.Conv2D\]"):
        points.load_weights(write(tmp_path, text, "w.toml"))


# ---------------------------------------------------------------------------------------------------- precedence

def test_flag_then_environment_then_file_then_default(tmp_path, monkeypatch):
    path = write(tmp_path, "[assignment]\nprofile = 'dev'\ncheck_timeout = 12\n")
    assert option(FakeConfig(assignment=str(path)), "profile") == "dev"
    assert given(FakeConfig(assignment=str(path)), "check_timeout") == "12"
    assert option(FakeConfig(assignment=str(path)), "grade_over") == "expressible", "not in the file: the default"
    assert given(FakeConfig(assignment=str(path)), "notebook_cells") is None, "not given anywhere"
    monkeypatch.setenv("NN_PROFILE", "thorough")
    assert option(FakeConfig(assignment=str(path)), "profile") == "thorough"
    assert option(FakeConfig(assignment=str(path), profile="grading"), "profile") == "grading"
    monkeypatch.setenv("NN_ASSIGNMENT", str(path))
    monkeypatch.delenv("NN_PROFILE")
    assert option(FakeConfig(), "profile") == "dev", "NN_ASSIGNMENT names the file too"
    assert option(FakeConfig(), "assignment") == str(path)


def test_explicit_weights_win_over_the_assignment_points(tmp_path, monkeypatch):
    path = write(tmp_path, "[layers.Linear]\nforward = 9\n")
    assert weights_of(FakeConfig(assignment=str(path))).of("Linear", "forward") == 9
    assert weights_of(FakeConfig()).of("Linear", "forward") == 2, "no assignment: nn_harness/grading/weights.toml"
    mine = write(tmp_path, points.DEFAULT_WEIGHTS.read_text().replace("forward = 2", "forward = 6"), "w.toml")
    assert weights_of(FakeConfig(assignment=str(path), weights=str(mine))).of("Linear", "forward") == 6
    monkeypatch.setenv("NN_WEIGHTS", str(mine))
    assert weights_of(FakeConfig(assignment=str(path))).of("Linear", "forward") == 6
    monkeypatch.delenv("NN_WEIGHTS")
    named = write(tmp_path, "[assignment]\nweights = 'w.toml'\n", "named.toml")
    assert weights_of(FakeConfig(assignment=str(named))).of("Linear", "forward") == 6, "relative to the file"


# ---------------------------------------------------------------------------------------------------- results.json

def check(layer: str, name: str, kind: str, outcome: str | None = "passed") -> Check:
    return Check(f"tests/x.py::test_{name.replace(' ', '_')}[{layer}]", layer, name, kind, outcome,
                 "" if outcome == "passed" else f"{layer}: {name}\nwrong")


def test_visibility_layer_over_kind_over_default_and_zero_points_hidden():
    table = {"default": "after_due_date", "backward": "after_published", "Conv2d": "hidden"}
    assert points.visibility_of(check("Conv2d", "backward matches torch", "backward"), 2, table) == "hidden"
    assert points.visibility_of(check("Linear", "backward matches torch", "backward"), 2, table) == "after_published"
    assert points.visibility_of(check("Linear", "forward matches torch", "forward"), 2, table) == "after_due_date"
    assert points.visibility_of(check("Linear", "forward matches torch", "forward"), 2, {}) == "visible"
    assert points.visibility_of(check("Linear", "forward matches torch", "forward"), 0, {"Linear": "visible"}) == "hidden"


def test_zero_points_sets_the_visibility_of_the_checks_worth_nothing_only():
    """A 0 weight, a check the profile does not grade and one beyond the course take [visibility] zero_points; the
    checks worth points keep theirs. Without the key, as before: hidden, a check beyond the course as its layer's."""
    weights = Weights("w", {kind: 1.0 for kind in points.KINDS} | {"statistical": 0.0})
    beyond = check("Linear", "float32 inputs", "contract")
    beyond.beyond = "the course never asks for float32"
    not_graded = check("Conv2d", "forward matches torch", "forward", points.NOT_GRADED)
    checks = [check("Linear", "forward matches torch", "forward"), check("Dropout", "dropout", "statistical"),
              beyond, not_graded]
    table = {"default": "after_due_date", "zero_points": "after_published"}
    data = points.results_json(checks, weights, summary=[], elapsed=1, not_run_reason="", import_error=None,
                                visibility=table)
    shown = {t["name"]: (t["visibility"], t["max_score"]) for t in data["tests"]}
    assert shown == {"Linear: forward matches torch": ("after_due_date", 1.0),
                     "Linear: float32 inputs": ("after_published", 0.0),
                     "Conv2d: forward matches torch": ("after_published", 0.0),
                     "Dropout: dropout": ("after_published", 0.0)}
    assert data["visibility"] == "after_due_date", "the top level follows default, not zero_points"
    before = points.results_json(checks, weights, summary=[], elapsed=1, not_run_reason="", import_error=None,
                                  visibility={"default": "after_due_date"})
    assert {t["name"]: t["visibility"] for t in before["tests"]} == {
        "Linear: forward matches torch": "after_due_date", "Linear: float32 inputs": "after_due_date",
        "Conv2d: forward matches torch": "hidden", "Dropout: dropout": "hidden"}


def test_zero_points_loads_from_the_assignment_file(tmp_path):
    found = assignment.load(write(tmp_path, '[visibility]\nzero_points = "visible"\nLinear = "hidden"\n'), OPTIONS)
    assert found.visibility == {"zero_points": "visible", "Linear": "hidden"}
    zero_weight = check("Linear", "forward matches torch", "forward")
    assert points.visibility_of(zero_weight, 0, found.visibility) == "visible", "zero_points wins over the layer's"
    assert points.visibility_of(zero_weight, 2, found.visibility) == "hidden"


def test_results_json_carries_visibility_and_the_assignment():
    weights = Weights("w", {kind: 1.0 for kind in points.KINDS} | {"statistical": 0.0})
    checks = [check("Linear", "forward matches torch", "forward"), check("Dropout", "dropout", "statistical", "failed")]
    data = points.results_json(checks, weights, summary=[], elapsed=1, not_run_reason="", import_error=None,
                                visibility={"default": "after_published", "Linear": "visible"}, assignment="HW2")
    shown = {t["name"]: t["visibility"] for t in data["tests"]}
    assert shown == {"Linear: forward matches torch": "visible", "Dropout: dropout": "hidden"}
    assert data["visibility"] == "after_published" and data["extra_data"]["assignment"] == "HW2"
    plain = points.results_json(checks, weights, summary=[], elapsed=1, not_run_reason="", import_error=None)
    assert "assignment" not in plain["extra_data"] and plain["visibility"] == "visible"


def test_the_order_of_the_report_does_not_depend_on_completion_order():
    checks = [check(layer, name, "contract") for layer in ("Submission", "MLP end to end", "Conv2d", "Linear")
              for name in ("zero grad zeroes buffers", "backward matches torch", "forward matches torch")]
    weights = points.load_weights(None)
    orders = set()
    for seed in range(5):
        random.Random(seed).shuffle(checks)
        data = points.results_json(checks, weights, summary=[], elapsed=0, not_run_reason="", import_error=None)
        orders.add(tuple(t["name"] for t in data["tests"]))
    assert len(orders) == 1
    names = next(iter(orders))
    assert names[0] == "Linear: backward matches torch" and names[3].startswith("Conv2d:"), names
    assert [n.split(":")[0] for n in names[6::3]] == ["MLP end to end", "Submission"]


def test_the_submission_is_named_as_the_student_named_it(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "layers.py").write_text("")
    assert points.shown_name(str(folder / "layers.py")) == "layers.py"
    assert points.shown_name(str(folder)) == "alice"
    assert points.shown_name("some.module") == "some.module"
    text = f"{folder / 'layers.py'}:2: imports torch (PyTorch)"
    assert points.public(text, str(folder / "layers.py")) == "layers.py:2: imports torch (PyTorch)"


# ---------------------------------------------------------------------------------------------------- exit codes

@pytest.mark.parametrize("code", [2, 3, 4, 5])
def test_could_not_grade_keeps_pytests_code_and_says_why_last(code, capsys):
    assert cli._could_not_grade(code, "") == code
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"nn-harness: could not grade (exit code {code}): ") and last.endswith(
        cli.COULD_NOT_GRADE[code]), last


def test_an_unknown_code_is_an_internal_error(capsys):
    assert cli._could_not_grade(70, "") == 3
    assert "pytest ended with exit code 70" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- end to end

def grade(impl: Path | str, out: Path, *extra: str, workers: str = "0", select: str = "Linear or ReLU or graded",
          cwd: Path = ROOT) -> tuple[subprocess.CompletedProcess, dict | None]:
    command = [sys.executable, "-m", "nn_harness", "--impl", str(impl), "-n", workers, "-m", select,
               "--grade-json", str(out), "--profile", "dev", "-p", "no:cacheprovider", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    return result, json.loads(out.read_text()) if out.is_file() else None


def texts(report: dict) -> str:
    return "\n".join([report["output"], *(t["output"] for t in report["tests"])])


@pytest.mark.slow
def test_an_assignment_of_linear_grades_only_linear(tmp_path):
    path = write(tmp_path, '[assignment]\nname = "HW1"\nlayers = ["Linear"]\napi = "torch7"\n'
                 '[visibility]\ndefault = "after_published"\nforward = "visible"\n')
    result, report = grade(ROOT / "examples" / "torch7_correct", tmp_path / "r.json", "--assignment", str(path))
    log = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, log
    layers = {t["name"].split(":")[0] for t in report["tests"]}
    assert layers == {"Linear", "Submission"}, "ReLU is selected by -m but not by the assignment"
    assert "deselected" in result.stdout
    assert report["score"] == report["max_score"] > 0 and report["extra_data"]["assignment"] == "HW1"
    assert "assignment: HW1 (hw2.toml), 1 layer graded: Linear" in report["output"]
    assert "api: torch7" in report["output"], "the assignment's api applies"
    seen = {t["name"]: t["visibility"] for t in report["tests"]}
    assert seen["Linear: forward matches torch"] == "visible"
    assert seen["Linear: backward matches torch"] == "after_published"
    assert report["visibility"] == "after_published"


@pytest.mark.slow
def test_results_name_no_path_of_the_grading_machine(tmp_path):
    """A buggy copy and a broken copy, graded from a folder of their own: messages name `layers.py`, never where
    it lay; the checkout's path is not in them either."""
    for name, source in (("buggy", ROOT / "examples" / "native_buggy" / "layers.py"), ("broken", None)):
        folder = tmp_path / name
        folder.mkdir()
        if source:
            shutil.copy(source, folder / "layers.py")
        else:
            (folder / "layers.py").write_text("import numpy as np\n\nclass Linear(\n")
        result, report = grade(folder / "layers.py", tmp_path / f"{name}.json")
        log = result.stdout[-3000:] + result.stderr[-2000:]
        assert result.returncode == 1, f"graded, some checks failed (also when it cannot be imported)\n{log}"
        text = texts(report)
        assert "layers.py" in text and any(t["status"] == "failed" for t in report["tests"])
        assert str(tmp_path) not in text and str(ROOT) not in text, text
        if name == "broken":
            assert "could not import the implementation 'layers.py'" in report["output"], report["output"]
            assert 'File "layers.py", line 3' in report["output"], report["output"]
        else:
            assert "reproduce: pytest --impl layers.py " in text


@pytest.mark.slow
def test_the_order_of_tests_is_the_same_on_every_run(tmp_path):
    impl = ROOT / "examples" / "native_buggy" / "layers.py"
    runs = [grade(impl, tmp_path / f"{i}.json", workers=workers)[1] for i, workers in enumerate(("0", "2"))]
    names = [[t["name"] for t in report["tests"]] for report in runs]
    assert names[0] == names[1] and len(names[0]) > 10
    layers = [name.split(":")[0] for name in names[0]]
    assert layers == sorted(layers, key=["Linear", "ReLU", "Submission"].index)
    linear = [name for name in names[0] if name.startswith("Linear:")]
    assert linear == sorted(linear)


@pytest.mark.slow
def test_could_not_grade_exit_codes(tmp_path):
    bad = write(tmp_path, "[assignment]\nlayers = ['Linaer']\n")
    result, _ = grade("impl", tmp_path / "r.json", "--assignment", str(bad))
    assert result.returncode == 4, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("nn-harness: could not grade (exit code 4): usage error: --assignment") and "Linaer" in last
    result, _ = grade("impl", tmp_path / "r.json", select="NoSuchLayer")
    assert result.returncode == 5, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("nn-harness: could not grade (exit code 5)")


@pytest.mark.slow
def test_grade_all_passes_the_assignment_on(tmp_path):
    """`grade-all ... -- --assignment A.toml`: a relative path, from the folder grade-all runs in."""
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(ROOT / "examples" / "native_buggy" / "layers.py", subs / "alice.py")
    write(tmp_path, "[assignment]\nname = 'HW1'\nlayers = ['ReLU']\nprofile = 'dev'\n", "A.toml")
    result = subprocess.run([sys.executable, "-m", "nn_harness", "grade-all", "subs", "--out", "out", "--jobs", "1", "--",
                             "--assignment", "A.toml", "-m", "Linear or ReLU or graded"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600,
                            env={k: v for k, v in os.environ.items() if not k.startswith("NN_")})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "alice" / "results.json").read_text())
    assert {t["name"].split(":")[0] for t in report["tests"]} == {"ReLU", "Submission"}
    assert report["extra_data"]["assignment"] == "HW1"
