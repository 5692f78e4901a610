"""`nn-harness grade-all` and `nn-harness gradebook` (nn_harness/grading/grade_all.py, nn_harness/grading/gradebook.py).

The fast tests build results folders from small synthetic results.json dicts whose names and outputs are copied
from real runs; the slow ones grade a temporary class folder for real (`-m "Linear or ReLU" --profile dev`).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nn_harness.grading import grade_all, gradebook
from nn_harness.run.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "meta" / "hostile"

# ---------------------------------------------------------------------------------------------------- synthetic results

LINEAR_BIAS_HINT = "hint: it equals sample 0's contribution alone: a parameter gradient sums over the batch"
BIAS_OUTPUT = (
    "Linear: backward matches torch\n"
    "  on: Linear(in_features=1, out_features=1, bias=True) in train mode on input float64 (2, 1) (values in [-0.1321, 0.1257])\n"
    "grad of bias differs: 1 / 1 elements mismatched (100.0%)\n"
    "  greatest absolute difference: 0.980527 at index (0,) (expected -0.877559, got 0.102968)\n"
    "  tolerance: |got - expected| <= 1e-09 + 1e-06 * |expected|\n"
    f"  {LINEAR_BIAS_HINT}\n"
    "  reproduce: pytest --impl examples/native_buggy/layers.py 'tests/test_layers.py::test_backward_matches_torch[Linear]'")
RELU_FD_OUTPUT = (
    "ReLU: backward matches finite differences\n"
    "  on: ReLU() in train mode on input float64 (1, 2) (values in [-0.1331, 0.1267])\n"
    "grad of input disagrees with finite differences of forward (full Jacobian, 2 x 2): 1 / 4 entries mismatched\n"
    "  worst: d output(0, 1) / d input(0, 1): finite differences give 0.5, backward gives 0\n"
    "  reproduce: pytest --impl examples/native_buggy/layers.py "
    "'tests/test_layers.py::test_backward_matches_finite_differences[ReLU]'")
IMPORT_OUTPUT = "failed: the implementation could not be imported (the error is shown once, at the top)"
CHECKS = [("Linear: forward matches torch", "forward", 2.0), ("Linear: backward matches torch", "backward", 2.0),
          ("Linear: gradients accumulate", "contract", 1.0), ("ReLU: forward matches torch", "forward", 2.0),
          ("ReLU: backward matches finite differences", "finite differences", 2.0)]


def results(failed: dict[str, str] | None = None) -> dict:
    """A results.json as the harness writes it; `failed` maps a check's name to its output."""
    failed = failed or {}
    tests = [{"name": name, "score": 0.0 if name in failed else points, "max_score": points,
              "status": "failed" if name in failed else "passed", "output": failed.get(name, ""),
              "visibility": "visible", "tags": [gradebook.layer_of(name), kind]} for name, kind, points in CHECKS]
    tests.append({"name": "Sigmoid: forward matches torch", "score": 0.0, "max_score": 0.0, "visibility": "visible",
                  "output": "not graded in torch7: not in the course", "tags": ["Sigmoid", "forward", "not graded"]})
    score = sum(t["score"] for t in tests)
    return {"score": score, "max_score": 9.0, "execution_time": 6, "output": f"nn-harness: {score:g} / 9 points",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"grade_over": "expressible", "score": score, "max_expressible": 9.0, "max_contract": 9.0}}


CORRECT = results()
BUGGY = results({"Linear: backward matches torch": BIAS_OUTPUT, "ReLU: backward matches finite differences": RELU_FD_OUTPUT})
BROKEN = results({name: IMPORT_OUTPUT for name, _, _ in CHECKS})


def write_folder(root: Path, name: str, data: dict | None = None, reason: str | None = None) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    if data is not None:
        (folder / gradebook.RESULTS).write_text(json.dumps(data))
    if reason is not None:
        (folder / gradebook.STATUS).write_text(json.dumps({"status": "not graded", "reason": reason}))


@pytest.fixture
def class_results(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    write_folder(out, "alice", CORRECT)
    write_folder(out, "bob", BUGGY)
    write_folder(out, "carol", BROKEN)
    write_folder(out, "dave", reason="timed out after 600 s (the whole run was stopped; see log.txt)")
    write_folder(out, "erin")  # a run still going, or killed with the batch
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------------- gradebook

@pytest.mark.parametrize(("name", "layer"), [("Linear: backward matches torch", "Linear"),
                                             ("MLP end to end: reaches its target accuracy", "MLP end to end"),
                                             ("Submission: uses NumPy only", "Submission")])
def test_layer_of_test_names(name: str, layer: str) -> None:
    assert gradebook.layer_of(name) == layer


def test_failure_reason_prefers_the_hint() -> None:
    test = next(t for t in BUGGY["tests"] if t["name"] == "Linear: backward matches torch")
    assert gradebook.failure_reason(test) == LINEAR_BIAS_HINT


def test_failure_reason_masks_numbers_of_the_first_reason_line() -> None:
    test = next(t for t in BUGGY["tests"] if t["name"] == "ReLU: backward matches finite differences")
    assert gradebook.failure_reason(test) == ("grad of input disagrees with finite differences of forward "
                                              "(full Jacobian, # x #): # / # entries mismatched")
    timed_out = {"name": "Linear: gradients accumulate", "output": "Linear: gradients accumulate\n  on: Linear() ...\n"
                 "timed out after 4 s (the sandbox was stopped during the check)\n  was running: x.py:8: while True:"}
    assert gradebook.failure_reason(timed_out) == "timed out after # s (the sandbox was stopped during the check)"
    assert gradebook.failure_reason({"name": "ReLU: forward matches torch", "output": IMPORT_OUTPUT}) == IMPORT_OUTPUT


@pytest.mark.parametrize("data", [[], {"score": 1, "tests": []}, {"score": "1", "max_score": 1, "tests": []},
                                  {"score": 1, "max_score": 2}, {"score": 1, "max_score": 2, "tests": [{"name": "x"}]},
                                  {"score": float("nan"), "max_score": 2, "tests": []}])
def test_unusable_results_are_refused(data: object) -> None:
    assert gradebook.results_problem(data)


def test_a_real_shaped_results_json_is_usable(tmp_path: Path) -> None:
    assert gradebook.results_problem(BUGGY) is None
    (tmp_path / "r.json").write_text("{ not json")
    assert gradebook.load_results(tmp_path / "r.json") is None


def test_gradebook_rows_statuses_totals_and_points_per_layer(class_results: Path, tmp_path: Path) -> None:
    gradebook.write_gradebook([class_results], tmp_path / "book")
    rows = read_csv(tmp_path / "book" / "gradebook.csv")
    assert list(rows[0]) == ["name", "status", "score", "max_score", "Linear", "ReLU", "Sigmoid"]
    by_name = {row["name"]: row for row in rows}
    assert list(by_name) == ["alice", "bob", "carol", "dave", "erin"]
    assert by_name["alice"] == {"name": "alice", "status": "graded", "score": "9", "max_score": "9",
                                "Linear": "5", "ReLU": "4", "Sigmoid": "0"}
    assert (by_name["bob"]["score"], by_name["bob"]["Linear"], by_name["bob"]["ReLU"]) == ("5", "3", "2")
    assert by_name["carol"]["score"] == "0"
    assert by_name["dave"]["status"] == "not graded: timed out after 600 s (the whole run was stopped; see log.txt)"
    assert by_name["dave"]["score"] == "" and by_name["erin"]["status"].startswith("not graded: no valid results.json")
    assert (tmp_path / "book" / "scores.png").read_bytes().startswith(b"\x89PNG")


def test_summary_pass_rates_failures_and_not_graded(class_results: Path) -> None:
    summary = gradebook.summary_markdown(gradebook.collect([class_results]))
    assert "5 submissions: 3 graded, 2 not graded." in summary
    assert "- dave: timed out after 600 s" in summary
    assert "| Linear | 33% (1 / 3) | 56% (5 / 9) |" in summary  # Sigmoid is not graded: no row
    assert "| ReLU | 33% (1 / 3) | 50% (3 / 6) |" in summary and "| Sigmoid |" not in summary
    assert f"| 1 | Linear: backward matches torch | {LINEAR_BIAS_HINT} |" in summary
    assert f"| 1 | (every check) | {IMPORT_OUTPUT} |" in summary  # once for carol, not once per check
    assert "| 1 | Linear: forward matches torch |" not in summary
    assert "more likely the grading configuration" not in summary  # 2 of 3 is not (nearly) every submission


def test_a_check_failing_for_nearly_the_whole_class_is_flagged_at_the_top(tmp_path: Path) -> None:
    for i in range(9):
        write_folder(tmp_path, f"student{i}", BUGGY)
    write_folder(tmp_path, "student9", CORRECT)
    summary = gradebook.summary_markdown(gradebook.collect([tmp_path]))
    flag = summary.index("more likely the grading configuration than the class")
    assert flag < summary.index("## Pass rate per layer")
    assert f"| Linear: backward matches torch | 90% (9 / 10) | {LINEAR_BIAS_HINT} |" in summary
    assert "| Linear: forward matches torch | 10%" not in summary


def test_a_small_class_failing_together_is_not_flagged(tmp_path: Path) -> None:
    write_folder(tmp_path, "a", BUGGY)
    write_folder(tmp_path, "b", BUGGY)
    assert "more likely the grading configuration" not in gradebook.summary_markdown(gradebook.collect([tmp_path]))


def test_merged_folders_give_the_same_gradebook_as_one(class_results: Path, tmp_path: Path) -> None:
    shards = [tmp_path / "shard1", tmp_path / "shard2"]
    for i, folder in enumerate(sorted(class_results.iterdir())):
        shutil.copytree(folder, shards[i % 2] / folder.name)
    one, merged = gradebook.write_gradebook([class_results], tmp_path / "one"), gradebook.write_gradebook(shards, tmp_path / "m")
    assert merged == one
    for name in ("gradebook.csv", "summary.md"):
        assert (tmp_path / "m" / name).read_text() == (tmp_path / "one" / name).read_text()


def test_merge_keeps_the_graded_row_and_refuses_two_grades(tmp_path: Path) -> None:
    write_folder(tmp_path / "a", "alice", reason="timed out after 600 s")
    write_folder(tmp_path / "b", "alice", CORRECT)
    assert [row.status for row in gradebook.collect([tmp_path / "a", tmp_path / "b"])] == ["graded"]
    write_folder(tmp_path / "c", "alice", BUGGY)
    with pytest.raises(SystemExit, match="alice is graded in both"):
        gradebook.collect([tmp_path / "b", tmp_path / "c"])


def test_gradebook_command_writes_the_three_files(class_results: Path, tmp_path: Path) -> None:
    assert cli(["gradebook", str(class_results), "--out", str(tmp_path / "book")]) == 1  # some not graded
    assert sorted(p.name for p in (tmp_path / "book").iterdir()) == ["gradebook.csv", "scores.png", "summary.md"]


# ---------------------------------------------------------------------------------------------------- discovery

def make(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_discover_each_kind_of_entry(tmp_path: Path) -> None:
    subs = make(tmp_path, {"alice.py": "", "bob.ipynb": "{}", "carol/__init__.py": "", "dave/sub/layers.py": "",
                           "dave/layers.py": "import helpers\n", "dave/helpers.py": "import numpy\n",
                           "erin/nb.ipynb": "{}", "erin/.ipynb_checkpoints/nb.ipynb": "{}", "frank/pkg/__init__.py": "",
                           "notes.txt": "", ".git/config": "", "__pycache__/x.py": ""})
    found = {s.name: (s.impl.relative_to(subs.resolve()).as_posix() if s.impl else s.problem) for s in grade_all.discover(subs)}
    assert found == {"alice": "alice.py", "bob": "bob.ipynb", "carol": "carol", "dave": "dave/layers.py",
                     "erin": "erin/nb.ipynb", "frank": "frank/pkg"}


@pytest.mark.parametrize("files", [
    {"network.py": "class Dense: ...", "xor.py": "import network", "mnist.py": "import network\nimport keras"},
    {"a.py": "import b", "b.py": "import a"}])  # several modules imported by no other, or none
def test_a_folder_of_modules_without_one_main_module_is_graded_as_the_student_runs_it(tmp_path: Path,
                                                                                    files: dict[str, str]) -> None:
    """The folder itself: the sandbox gathers what each file defines (nn_harness/sandbox/loading.py), so a script
    that fails at import (a data loader wanting keras) costs only its own names (a public repository was refused
    as "ambiguous" before)."""
    make(tmp_path / "subs" / "alice", files)
    [submission] = grade_all.discover(tmp_path / "subs")
    assert submission.impl == (tmp_path / "subs" / "alice").resolve() and not submission.problem


def test_a_folder_holding_only_a_folder_of_modules_grades_that_one(tmp_path: Path) -> None:
    make(tmp_path / "subs" / "alice", {"README.md": "", "deepnet/layers.py": "", "deepnet/im2col.py": ""})
    [submission] = grade_all.discover(tmp_path / "subs")
    assert submission.impl == (tmp_path / "subs" / "alice" / "deepnet").resolve()


@pytest.mark.parametrize(("files", "problem"), [
    ({"layers.py": "", "layers.ipynb": "{}"}, "ambiguous: several things to grade (layers.ipynb, layers.py)"),
    ({"a/x.py": "", "b/y.ipynb": "{}"}, "ambiguous: several folders of code (a, b)"),
    ({"README.md": ""}, "no .py file, .ipynb notebook or package folder in it")])
def test_a_folder_without_one_thing_to_grade_says_why(tmp_path: Path, files: dict[str, str], problem: str) -> None:
    make(tmp_path / "subs" / "alice", files)
    [submission] = grade_all.discover(tmp_path / "subs")
    assert submission.impl is None and submission.problem.startswith(problem)


def test_a_file_and_a_folder_of_one_name_keep_their_full_names(tmp_path: Path) -> None:
    make(tmp_path, {"alice.py": "", "alice/layers.py": "", "bob.py": ""})
    assert [s.name for s in grade_all.discover(tmp_path)] == ["alice", "alice.py", "bob"]


# ---------------------------------------------------------------------------------------------------- sharding

@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", "1/2/3"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(Exception, match="--shard"):
        grade_all.parse_shard(text)


def test_shards_partition_the_class_and_keep_their_members_when_it_grows() -> None:
    names = [f"student{i:03d}" for i in range(200)]
    subs = [grade_all.Submission(name, Path(name)) for name in names]
    shards = [grade_all.in_shard(subs, (k, 4)) for k in range(1, 5)]
    assert sorted(s.name for shard in shards for s in shard) == names
    assert all(30 <= len(shard) <= 70 for shard in shards)  # a hash: roughly even
    grown = grade_all.in_shard([*subs, grade_all.Submission("late", Path("late"))], (1, 4))
    assert [s for s in grown if s.name != "late"] == shards[0]
    assert grade_all.parse_shard("2/4") == (2, 4)


def test_grade_all_refuses_what_it_sets_itself(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli(["grade-all", str(tmp_path), "--out", str(tmp_path / "o"), "--", "--grade-json=x.json"])
    assert "drop --grade-json=x.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["grade-all", str(tmp_path), "--out", str(tmp_path / "o"), "--shard", "3/2"])
    assert "need 1 <= K <= N" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- verdicts

def test_only_a_finished_run_with_a_valid_report_is_graded(tmp_path: Path) -> None:
    report = tmp_path / "results.partial.json"
    assert grade_all.verdict(None, report, 30) == "not graded: timed out after 30 s (the whole run was stopped; see log.txt)"
    assert grade_all.verdict(1, report, 30) == "not graded: results.json missing (exit code 1); see log.txt"
    report.write_text(json.dumps(BUGGY))
    assert grade_all.verdict(1, report, 30) == "graded"
    assert grade_all.verdict(2, report, 30) == "not graded: the harness ended with exit code 2 (interrupted); see log.txt"
    assert grade_all.verdict(-9, report, 30).startswith("not graded: the harness was killed by signal SIGKILL")
    report.write_text(json.dumps({"score": 1}))
    assert grade_all.verdict(0, report, 30) == "not graded: results.json no numeric 'max_score' (exit code 0); see log.txt"


# ---------------------------------------------------------------------------------------------------- regrades

# Stands in for `python -m nn_harness` (grade_all.HARNESS, cold), so a regrade's failures take a second, not a run:
# "grade" writes the report it is given and exits 1 (checks failed); "crash" writes half of it (as a run killed
# mid-write leaves it) and exits 3; "hang" writes half of it and sleeps past grade-all's timeout.
FAKE_HARNESS = """\
import sys, time
mode, report, html, data = sys.argv[1:]
open(html, "w").write("<html>" + data)
open(report, "w").write(data if mode == "grade" else data[: len(data) // 2])
if mode == "hang":
    time.sleep(60)
sys.exit(1 if mode == "grade" else 3)
"""


def fake_harness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str, report: dict) -> None:
    script = make(tmp_path / "fake", {"harness.py": FAKE_HARNESS}) / "harness.py"
    monkeypatch.setattr(grade_all, "HARNESS", (sys.executable, str(script)))
    monkeypatch.setattr(grade_all, "command", lambda submission, partial, html, extra:
                        [mode, str(partial), str(html), json.dumps(report)])


def regrade(out: Path, timeout: float = 30) -> grade_all.Outcome:
    alice = grade_all.Submission("alice", out.parent / "alice.py")
    return grade_all.grade_all([alice], out, [], jobs=1, timeout=timeout, force=True, cold=True)["alice"]


@pytest.mark.parametrize(("failure", "timeout", "why"), [
    ("crash", 30, "the harness ended with exit code 3 (internal error); see log.txt"),
    ("hang", 1, "timed out after 1 s (the whole run was stopped; see log.txt)"),
])
def test_a_failed_regrade_keeps_the_old_grade_and_a_graded_one_replaces_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str, timeout: float, why: str) -> None:
    out, folder = tmp_path / "out", tmp_path / "out" / "alice"
    fake_harness(monkeypatch, tmp_path, "grade", BUGGY)
    assert regrade(out).status == gradebook.GRADED
    old = {name: (folder / name).read_bytes() for name in (gradebook.RESULTS, grade_all.HTML)}

    fake_harness(monkeypatch, tmp_path, failure, CORRECT)
    outcome = regrade(out, timeout)
    assert outcome.status == f"{gradebook.REGRADE_FAILED}: {why}; {gradebook.KEPT}"
    assert {name: (folder / name).read_bytes() for name in old} == old, "the old grade and its report are intact"
    assert not (folder / grade_all.PARTIAL_HTML).exists()
    row = gradebook.read_row(folder)
    assert (row.status, row.results, row.regrade_failed) == (gradebook.GRADED, BUGGY, f"{why}; {gradebook.KEPT}")
    gradebook.write_gradebook([out], out)
    summary = (out / "summary.md").read_text()
    assert f"## Regrade failed (previous grade kept)\n\n- alice: {why}" in summary, summary
    assert grade_all.incomplete([row]) == 1

    fake_harness(monkeypatch, tmp_path, "grade", CORRECT)
    assert regrade(out).status == gradebook.GRADED
    assert json.loads((folder / gradebook.RESULTS).read_text()) == CORRECT
    assert (folder / grade_all.HTML).read_text() == "<html>" + json.dumps(CORRECT)
    assert gradebook.read_row(folder).regrade_failed == ""
    assert grade_all.incomplete([gradebook.read_row(folder)]) == 0


def test_an_interrupted_batch_keeps_the_old_grade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or a crash of grade-all itself) while a regrade runs: nothing of the old grade was touched yet."""
    out = tmp_path / "out"
    fake_harness(monkeypatch, tmp_path, "grade", BUGGY)
    regrade(out)
    before = (out / "alice" / gradebook.RESULTS).read_bytes()

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt
    monkeypatch.setattr(grade_all, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        regrade(out)
    assert (out / "alice" / gradebook.RESULTS).read_bytes() == before
    assert gradebook.read_row(out / "alice").status == gradebook.GRADED


# ---------------------------------------------------------------------------------------------------- real runs

HARNESS_ARGS = ["--", "-m", "Linear or ReLU", "--profile", "dev", "--check-timeout", "600"]  # the hang outlasts us
TIMEOUT = "90"  # above a Linear-and-ReLU run on a loaded 2-core machine (~20-40 s), below the hang's 600 s


def notebook(path: Path) -> None:
    """The correct layers in a notebook, with what makes real ones fail to import: a training loop, a magic, an
    optional package the grader lacks."""
    cells = [nbformat.v4.new_markdown_cell("# Homework 1"), nbformat.v4.new_code_cell((HOSTILE / "_layers.py").read_text()),
             nbformat.v4.new_code_cell("%matplotlib inline\nimport skimage\nwhile True:\n    pass\n")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)


def make_class(root: Path) -> Path:
    """correct.py, a package, a folder holding one buggy .py, a folder of modules, a notebook, a hostile member in a
    folder with its helper module, an ambiguous folder, a syntax error and a submission hanging at import."""
    subs = root / "subs"
    subs.mkdir()
    shutil.copy(HOSTILE / "_layers.py", subs / "correct.py")
    shutil.copytree(ROOT / "impl", subs / "pkg", ignore=shutil.ignore_patterns("__pycache__"))
    make(subs, {"in_folder/layers.py": (ROOT / "examples" / "native_buggy" / "layers.py").read_text(),
                "ambiguous/a.py": "x = 1\n", "ambiguous/b.ipynb": "{}", "hang.py": "import time\ntime.sleep(10**6)\n"})
    shutil.copytree(HOSTILE, subs / "modules", ignore=lambda _, names: [n for n in names if n not in
                                                                          ("_layers.py", "control_correct.py")])
    shutil.copy(HOSTILE / "syntax_error.py", subs / "broken.py")
    notebook(subs / "notebook.ipynb")
    make(subs, {"hostile/_layers.py": (HOSTILE / "_layers.py").read_text(),
                "hostile/rewrite.py": (HOSTILE / "write_results_file.py").read_text()})
    return subs


def run_grade_all(subs: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nn_harness", "grade-all", str(subs), "--out", str(out), *options,
                           *HARNESS_ARGS], capture_output=True, text=True, cwd=ROOT, timeout=1200)


# With --dist loadgroup (CI's), xdist runs the tests of a group on one worker: the module fixture runs once, not per worker.
ONE_CLASS = pytest.mark.xdist_group("graded_class")
GRADED = ["broken", "correct", "hostile", "in_folder", "modules", "notebook", "pkg"]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("class")
    subs = make_class(root)
    run = run_grade_all(subs, root / "out", "--jobs", "2", "--submission-timeout", TIMEOUT)
    for name in ("gradebook.csv", "summary.md"):  # as the first run left them (the resume test changes the hang's row)
        shutil.copy(root / "out" / name, make(root / "first", {}) / name)
    return subs, root / "out", run


@pytest.mark.slow
@ONE_CLASS
def test_grade_all_grades_each_submission_and_writes_the_gradebook(graded_class) -> None:
    subs, out, run = graded_class
    assert run.returncode == 1, run.stderr  # two submissions are not graded
    assert "[9/9]" in run.stderr and "ETA" in run.stderr
    for name in GRADED:
        assert gradebook.load_results(out / name / "results.json") is not None, (out / name / "log.txt").read_text()
        assert "verdict per layer" in (out / name / "log.txt").read_text()
        assert "Verdict per layer" in (out / name / grade_all.HTML).read_text()  # the visual report, beside it
    assert '<img alt="expected, got and difference of grad of bias' in (out / "in_folder" / grade_all.HTML).read_text()
    assert not (out / "hang" / "results.json").exists() and not (out / "ambiguous" / "results.json").exists()
    rows = {row["name"]: row for row in read_csv(out / "gradebook.csv")}
    assert sorted(rows) == sorted([*GRADED, "ambiguous", "hang"])
    assert [(rows[n]["score"], rows[n]["max_score"]) for n in ("correct", "pkg", "modules", "notebook")] == \
        [("27", "27")] * 4
    assert float(rows["in_folder"]["score"]) < 27 and rows["broken"]["score"] == "0"
    assert float(rows["hostile"]["score"]) < 27, "the hostile member rewrote its report"
    assert float(rows["in_folder"]["Linear"]) < 12 and rows["pkg"]["ReLU"] == "14"
    assert rows["hang"]["status"] == f"not graded: timed out after {TIMEOUT} s (the whole run was stopped; see log.txt)"
    assert rows["ambiguous"]["status"].startswith("not graded: ambiguous: several things to grade (a.py, b.ipynb)")
    summary = (out / "summary.md").read_text()
    assert "9 submissions: 7 graded, 2 not graded." in summary and "| Linear | 57% (4 / 7) |" in summary
    assert "a parameter gradient sums over the batch" in summary
    assert (out / "scores.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
@ONE_CLASS
def test_a_timed_out_submission_leaves_no_process_behind(graded_class) -> None:
    subs, _, _ = graded_class
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if str(subs).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                left.append(pid)
        except OSError:
            continue
    assert not left


@pytest.mark.slow
@ONE_CLASS
def test_a_second_run_skips_the_graded(graded_class) -> None:
    subs, out, _ = graded_class
    before = {name: (out / name / "results.json").stat().st_mtime_ns for name in GRADED}
    run = run_grade_all(subs, out, "--jobs", "2", "--submission-timeout", "5")  # only the hang and ambiguous run again
    assert "7 already graded (skipped), 2 to grade" in run.stderr
    assert {name: (out / name / "results.json").stat().st_mtime_ns for name in GRADED} == before
    assert "timed out after 5 s" in (out / "gradebook.csv").read_text()


@pytest.mark.slow
@ONE_CLASS
def test_force_grades_again(graded_class, tmp_path: Path) -> None:
    subs, out, _ = graded_class
    one = make(tmp_path / "one", {"correct.py": (subs / "correct.py").read_text()})
    shutil.copytree(out / "correct", tmp_path / "out" / "correct")
    before = (tmp_path / "out" / "correct" / "results.json").stat().st_mtime_ns
    run = run_grade_all(one, tmp_path / "out", "--force")
    assert "0 already graded (skipped), 1 to grade" in run.stderr
    assert (tmp_path / "out" / "correct" / "results.json").stat().st_mtime_ns != before
    assert read_csv(tmp_path / "out" / "gradebook.csv")[0]["score"] == "27"


@pytest.mark.slow
@ONE_CLASS
def test_two_shards_merged_equal_the_unsharded_gradebook(graded_class, tmp_path: Path) -> None:
    subs, out, _ = graded_class
    shards = [tmp_path / "shard1", tmp_path / "shard2"]
    runs = [subprocess.Popen([sys.executable, "-m", "nn_harness", "grade-all", str(subs), "--out", str(shard),
                              "--shard", f"{k}/2", "--jobs", "1", "--submission-timeout", TIMEOUT, *HARNESS_ARGS],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for k, shard in enumerate(shards, 1)]
    for run in runs:
        run.wait(1200)
    names = [sorted(p.name for p in shard.iterdir() if p.is_dir()) for shard in shards]
    assert names[0] and names[1] and not set(names[0]) & set(names[1])
    assert cli(["gradebook", str(shards[0]), str(shards[1]), "--out", str(tmp_path / "merged")]) == 1
    for name in ("gradebook.csv", "summary.md"):
        assert (tmp_path / "merged" / name).read_text() == (out.parent / "first" / name).read_text()
