"""`nn-harness gradescope` and `nn-harness classroom` (nn_harness/grading/: bundles.py, autograder.py, platforms/).

Fast: what the zip and the template repository hold (never a file of impl/), that the workflow parses with one step
per graded layer worth its points, and that run_autograder leaves a valid results.json when nothing can be graded.
Slow: the zip unpacked into a root laid out as Gradescope's, setup.sh run for real (what it skips here is said at
`gradescope_root`), and run_autograder on a correct, a buggy, a hostile and a missing submission, and under an
assignment whose [visibility] zero_points applies; each workflow step's command on the correct and the buggy example.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from nn_harness.grading import autograder, bundles

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HOSTILE = ROOT / "tests" / "meta" / "hostile"
LAYERS = ["Linear", "MSELoss"]  # torch7_buggy's one bug is in MSELoss: Linear passes, MSELoss fails
ASSIGNMENT = f"""\
[assignment]
name = "HW1"
layers = {json.dumps(LAYERS)}
api = "course/mycourse.toml"  # a course profile of our own: the bundles must carry it
profile = "dev"
"""
# Gradescope's results.json (gradescope-autograders.readthedocs.io/en/latest/specs/): the fields and their types.
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
TOP_FIELDS = {"score": (int, float), "max_score": (int, float), "execution_time": (int, float), "output": str,
              "output_format": str, "test_output_format": str, "test_name_format": str, "visibility": str,
              "stdout_visibility": str, "extra_data": dict, "tests": list, "leaderboard": list}
TEST_FIELDS = {"score": (int, float), "max_score": (int, float), "status": str, "name": str, "name_format": str,
               "number": (str, int, float), "output": str, "output_format": str, "tags": list, "visibility": str,
               "extra_data": dict}


def gradescope_problems(data: Any) -> list[str]:
    """What in `data` Gradescope's specification does not allow (unknown fields, wrong types, visibilities), or
    our reports leave out (each test's name, score and max_score)."""
    if not isinstance(data, dict):
        return ["not a JSON object"]
    tests = data.get("tests", [])
    problems = [] if "score" in data else ["no score"]
    problems += _entry_problems("", TOP_FIELDS, data)
    for i, test in enumerate(tests if isinstance(tests, list) else []):
        problems += _entry_problems(f"tests[{i}].", TEST_FIELDS, test)
        problems += [f"tests[{i}]: no {key}" for key in ("name", "score", "max_score") if key not in test]
    return problems


def _entry_problems(where: str, fields: dict[str, type | tuple[type, ...]], entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{where}: not an object"]
    problems = [f"{where}{key}: unknown field" for key in entry if key not in fields]
    problems += [f"{where}{key}: a {type(value).__name__}" for key, value in entry.items()
                 if key in fields and (not isinstance(value, fields[key]) or isinstance(value, bool))]
    problems += [f"{where}{key}: {entry[key]!r}" for key in ("visibility", "stdout_visibility")
                 if entry.get(key, "visible") not in VISIBILITIES]
    if entry.get("status", "passed") not in ("passed", "failed"):
        problems.append(f"{where}status: {entry['status']!r}")
    return problems


def impl_files() -> dict[str, bytes]:
    return {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in (ROOT / "impl").rglob("*.py")}


def assert_no_impl(members: dict[str, bytes]) -> None:
    """No file of impl/, by path or (under another name) by content."""
    solution = impl_files()
    assert solution, "impl/ has no file: the check would prove nothing"
    assert not [name for name in members if "impl/" in f"/{name}"]
    copies = {name for name, data in members.items() if data and data in solution.values()}
    assert not copies, f"files of impl/ shipped under other names: {sorted(copies)}"


def sdist_members(sdist: bytes, where: Path) -> dict[str, bytes]:
    (where / "sdist.tar.gz").write_bytes(sdist)
    with tarfile.open(where / "sdist.tar.gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


@pytest.fixture(scope="module")
def assignment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("course")
    (folder / "course").mkdir()
    shutil.copy(ROOT / "nn_harness" / "sandbox" / "adapters" / "profiles" / "torch7.toml", folder / "course" / "mycourse.toml")
    (folder / "hw1.toml").write_text(ASSIGNMENT)
    return folder / "hw1.toml"


@pytest.fixture(scope="module")
def points(assignment: Path) -> dict[str, float]:
    return bundles.layer_points(assignment)


@pytest.fixture(scope="module")
def zip_path(assignment: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    assert bundles.main(["gradescope", "--assignment", str(assignment), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def classroom(assignment: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("classroom")
    assert bundles.main(["classroom", "--assignment", str(assignment), "-o", str(out), "--submission", "homework"]) == 0
    return out


def graded_steps(classroom: Path) -> list[dict[str, Any]]:
    steps = yaml.safe_load((classroom / ".github" / "workflows" / "classroom.yml").read_text())["jobs"][
        "run-autograding-tests"]["steps"]
    return [step for step in steps if step.get("uses") == bundles.COMMAND_GRADER]


# ---------------------------------------------------------------------------------------------------- fast

def test_points_are_the_assignment_layers(points: dict[str, float]) -> None:
    assert list(points) == [*LAYERS, "Submission"]  # the submission as a whole is always graded
    assert all(value > 0 for value in points.values())


def test_points_follow_the_assignment(assignment: Path, points: dict[str, float], tmp_path: Path) -> None:
    """Two more points on Linear's one forward check: Linear's entry is worth two more, the others the same."""
    shutil.copytree(assignment.parent, tmp_path, dirs_exist_ok=True)
    (tmp_path / "hw1.toml").write_text(ASSIGNMENT + "\n[layers.Linear]\nforward = 4\n")
    changed = bundles.layer_points(tmp_path / "hw1.toml")
    assert changed == {**points, "Linear": points["Linear"] + 2}


def test_zip_holds_what_gradescope_runs(zip_path: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(zip_path) as bundle:
        modes = {info.filename: info.external_attr >> 16 for info in bundle.infolist()}
        members = {name: bundle.read(name) for name in modes}
    sdists = [name for name in members if name.startswith("nn_harness-") and name.endswith(".tar.gz")]
    assert len(sdists) == 1
    assert set(members) == {"setup.sh", "run_autograder", "install.sh", "assignment.toml", "course/mycourse.toml",
                            *sdists}
    assert all(modes[name] & 0o111 for name in ("setup.sh", "run_autograder", "install.sh"))
    assert members["assignment.toml"].decode() == ASSIGNMENT
    install = members["install.sh"].decode()
    assert "@" not in install.replace("$@", "") and "torch==2.13.0" in install and sdists[0] in install
    harness_files = sdist_members(members[sdists[0]], tmp_path)
    top = sdists[0].removesuffix(".tar.gz")
    for needed in ("nn_harness/run/cli.py", "nn_harness/grading/autograder.py", "reference/nn.py", "tests/test_layers.py",
                   "conftest.py", "pyproject.toml", "nn_harness/grading/weights.toml"):
        assert f"{top}/{needed}" in harness_files
    assert not [name for name in harness_files if "/tests/meta/" in name or "__pycache__" in name]
    assert_no_impl({**members, **harness_files})


def test_workflow_has_a_step_per_layer_worth_its_points(classroom: Path, points: dict[str, float]) -> None:
    workflow = yaml.safe_load((classroom / ".github" / "workflows" / "classroom.yml").read_text())
    assert workflow["on"] == ["push", "workflow_dispatch", "repository_dispatch"]  # "on", not YAML's true
    steps = graded_steps(classroom)
    assert [step["with"]["test-name"] for step in steps] == list(points)
    assert {step["with"]["test-name"]: step["with"]["max-score"] for step in steps} == points
    linear = steps[0]["with"]["command"]
    assert linear == "nn-harness --assignment assignment.toml --impl homework -m Linear -n 0"
    reporter = workflow["jobs"]["run-autograding-tests"]["steps"][-1]
    assert reporter["uses"] == bundles.REPORTER
    assert reporter["with"]["runners"].split(",") == [step["id"] for step in steps]
    assert reporter["env"] == {f"{s['id'].upper()}_RESULTS": f"${{{{steps.{s['id']}.outputs.result}}}}" for s in steps}
    assert (classroom / "assignment.toml").read_text() == ASSIGNMENT
    assert (classroom / "course" / "mycourse.toml").is_file()
    shipped = {p.relative_to(classroom).as_posix(): p.read_bytes() for p in classroom.rglob("*") if p.is_file()}
    sdist = next(data for name, data in shipped.items() if name.endswith(".tar.gz"))
    assert_no_impl({**shipped, **sdist_members(sdist, classroom.parent)})


def test_yaml_scalars_read_back_as_written() -> None:
    value = {"on": ["push"], "a": "3.11", "b": "x: y # z", "c": "${{steps.x.outputs.result}}", "d": "line 1\nline 2",
             "e": 12, "f": "actions/checkout@v4", "g": "", "h": "yes", "i": [{"j": {"k": "l m"}}]}
    assert yaml.safe_load("\n".join(bundles.to_yaml(value))) == {**value, "d": "line 1\nline 2\n"}


def test_fractional_points_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"whole points only; these layers are worth a fraction: Linear \(2.5\)"):
        bundles.whole_points({"Linear": 2.5, "ReLU": 3.0}, tmp_path / "a.toml")
    assert bundles.whole_points({"Linear": 2.0, "SGD": 0.0}, tmp_path / "a.toml") == {"Linear": 2}


def test_files_outside_the_assignment_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[assignment]\nweights = "../w.toml"\n')
    with pytest.raises(SystemExit, match="inside the assignment's folder"):
        bundles.carried_files(tmp_path / "a.toml")


@pytest.mark.parametrize("layout, why", [
    ({}, "nothing to grade in your submission: no .py file"),
    ({"a.py": "", "b.ipynb": "{}"}, "ambiguous: several things to grade"),
    (None, "there is no submission folder"),
])
def test_nothing_to_grade_is_score_zero_with_the_reason(tmp_path: Path, layout: dict[str, str] | None, why: str) -> None:
    if layout is not None:
        (tmp_path / "submission").mkdir()
        for name, text in layout.items():
            (tmp_path / "submission" / name).write_text(text)
    assert autograder.main([str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert gradescope_problems(results) == []
    assert results["score"] == 0 and why in results["output"]


def test_a_folder_holding_the_submission_is_looked_into(tmp_path: Path) -> None:
    (tmp_path / "hw1").mkdir()
    (tmp_path / "hw1" / "layers.py").write_text("")
    assert autograder.find_submission(tmp_path) == (tmp_path / "hw1" / "layers.py", "")


def test_run_autograder_without_its_environment_still_leaves_results(tmp_path: Path) -> None:
    """setup.sh never ran (no venv): the bash fallback writes results.json itself."""
    script = ROOT / "nn_harness" / "grading" / "platforms" / "run_autograder"
    run = subprocess.run(["bash", str(script)], env={**os.environ, "AUTOGRADER_ROOT": str(tmp_path)},
                         capture_output=True, text=True)
    assert run.returncode == 0
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert gradescope_problems(results) == []
    assert results["score"] == 0 and "environment is broken" in results["output"]


# ---------------------------------------------------------------------------------------------------- slow: Gradescope

# With --dist loadgroup (CI's), xdist runs the tests of a group on one worker: the module fixture runs once, not per worker.
ONE_AUTOGRADER = pytest.mark.xdist_group("gradescope_root")


@pytest.fixture(scope="module")
def gradescope_root(zip_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zip unpacked into ROOT/source, and setup.sh run for real with AUTOGRADER_ROOT=ROOT, except that: the
    apt-get install of Python 3.11 does not run (this machine has python3.11, so setup.sh skips it); the venv is made
    with --system-site-packages (NN_VENV_ARGS), so the dependencies already installed here (numpy, pytest, ...) are
    reused, not downloaded; torch comes from pip's own index (TORCH_INDEX_URL empty), where 2.13.0 is already
    installed, instead of download.pytorch.org. The sdist is unpacked and installed in editable mode as on Gradescope
    (pip builds it, fetching setuptools from pip's index)."""
    root = tmp_path_factory.mktemp("autograder")
    with zipfile.ZipFile(zip_path) as bundle:
        bundle.extractall(root / "source")
        for member in bundle.infolist():  # as unzip does: extractall drops the Unix modes
            (root / "source" / member.filename).chmod(member.external_attr >> 16 & 0o777)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "NN_VENV_ARGS": "--system-site-packages", "TORCH_INDEX_URL": ""}
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True,
                           timeout=900)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    return root


def venv_python(root: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(root / "venv" / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          cwd=root)


@pytest.mark.slow
@ONE_AUTOGRADER
def test_setup_installs_the_bundled_harness_without_impl(gradescope_root: Path) -> None:
    found = venv_python(gradescope_root, "import nn_harness, reference; print(nn_harness.__file__); print(reference.__file__)")
    assert found.returncode == 0, found.stderr
    assert all(Path(line).is_relative_to(gradescope_root / "source") for line in found.stdout.split())
    assert venv_python(gradescope_root, "import impl").returncode != 0
    assert (gradescope_root / "venv" / "bin" / "nn-harness").is_file()


def submit(root: Path, files: dict[str, Path]) -> dict[str, Any]:
    """Gradescope's run for one submission: a fresh submission/ folder (and results/), then run_autograder as
    Gradescope calls it, from its copy at ROOT/run_autograder."""
    for folder in ("submission", "results"):
        shutil.rmtree(root / folder, ignore_errors=True)
        (root / folder).mkdir()
    for name, source in files.items():
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / "submission" / name)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    run = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "AUTOGRADER_ROOT": str(root)})
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert gradescope_problems(results) == [], run.stdout[-3000:]
    return results


def layers_of(results: dict[str, Any]) -> set[str]:
    return {test["name"].split(": ", 1)[0] for test in results["tests"]}


@pytest.mark.slow
@ONE_AUTOGRADER
def test_gradescope_correct_submission_scores_full_marks(gradescope_root: Path, points: dict[str, float]) -> None:
    results = submit(gradescope_root, {"torch7_correct": EXAMPLES / "torch7_correct"})  # a folder holding a package
    assert layers_of(results) == set(points)
    assert results["score"] == results["max_score"] == sum(points.values())


@pytest.mark.slow
@ONE_AUTOGRADER
def test_gradescope_buggy_submission_loses_the_buggy_layer(gradescope_root: Path, points: dict[str, float]) -> None:
    results = submit(gradescope_root, {p.name: p for p in (EXAMPLES / "torch7_buggy").glob("*.py")})  # the package itself
    failed = {test["name"].split(": ", 1)[0] for test in results["tests"] if test["status"] == "failed"}
    assert failed == {"MSELoss"}
    assert 0 < results["score"] < results["max_score"] == sum(points.values())


@pytest.mark.slow
@ONE_AUTOGRADER
def test_gradescope_hostile_submission_scores_zero_with_its_error(gradescope_root: Path) -> None:
    results = submit(gradescope_root, {name: HOSTILE / name for name in ("raise_at_import.py", "_layers.py")})
    assert results["score"] == 0 and "breaks at import" in results["output"]


@pytest.mark.slow
@ONE_AUTOGRADER
def test_gradescope_missing_submission_scores_zero(gradescope_root: Path) -> None:
    results = submit(gradescope_root, {})
    assert results["score"] == 0 and "nothing to grade" in results["output"]


@pytest.mark.slow
@ONE_AUTOGRADER
def test_gradescope_broken_assignment_scores_zero_and_says_so(gradescope_root: Path, tmp_path: Path) -> None:
    """The harness itself cannot grade (a usage error): still a results.json, and it does not blame the student."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "venv").symlink_to(gradescope_root / "venv")
    (root / "source" / "run_autograder").write_bytes((gradescope_root / "source" / "run_autograder").read_bytes())
    (root / "source" / "run_autograder").chmod(0o755)
    (root / "source" / "assignment.toml").write_text('[assignment]\nlayers = ["NoSuchLayer"]\n')
    results = submit(root, {"layers.py": HOSTILE / "control_correct.py", "_layers.py": HOSTILE / "_layers.py"})
    assert results["score"] == 0 and "not your submission's fault" in results["output"]
    assert "NoSuchLayer" in results["output"]


@pytest.mark.slow
@ONE_AUTOGRADER
def test_gradescope_zero_point_checks_take_the_assignments_visibility(gradescope_root: Path, tmp_path: Path) -> None:
    """[visibility] zero_points through the bundle: the installed harness, run_autograder and the bundled
    assignment (here with MSELoss's finite differences worth 0) give the 0-point checks that visibility, the
    others the default, in a results.json Gradescope's specification allows."""
    root = tmp_path / "autograder"
    shutil.copytree(gradescope_root / "source", root / "source", ignore=shutil.ignore_patterns("nn_harness-*"))
    (root / "venv").symlink_to(gradescope_root / "venv")  # its editable install stays in gradescope_root
    (root / "source" / "assignment.toml").write_text(
        ASSIGNMENT + '\n[layers.MSELoss]\n"finite differences" = 0\n\n[visibility]\nzero_points = "after_published"\n')
    results = submit(root, {"torch7_correct": EXAMPLES / "torch7_correct"})
    zero = {test["name"] for test in results["tests"] if test["max_score"] == 0}
    assert zero == {"MSELoss: loss gradient matches finite differences"}, zero
    shown = {test["name"]: test["visibility"] for test in results["tests"]}
    assert {shown[name] for name in zero} == {"after_published"}
    assert {shown[name] for name in set(shown) - zero} == {"visible"}
    assert results["score"] == results["max_score"] > 0


# ---------------------------------------------------------------------------------------------------- slow: Classroom

def run_step(classroom: Path, step: dict[str, Any], submission: Path, tmp_path: Path) -> tuple[int, float]:
    """A step's command as the command grader runs it (from the repository's root, its exit code the verdict),
    with --grade-json added to see how many points the checks it selects are worth."""
    repo = tmp_path / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(classroom, repo, ignore=shutil.ignore_patterns("*.tar.gz", "install.sh"))
    shutil.copytree(submission, repo / "homework")
    report = tmp_path / "results.json"
    command = f"{step['with']['command']} --grade-json {report}"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # where pip put nn-harness
    run = subprocess.run(command, shell=True, cwd=repo, capture_output=True, text=True, timeout=900,
                         env={"PATH": path, "HOME": os.environ.get("HOME", str(tmp_path))})
    return run.returncode, json.loads(report.read_text())["max_score"]


@pytest.mark.slow
@pytest.mark.parametrize("example, failing", [("torch7_correct", set()), ("torch7_buggy", {"MSELoss"})])
def test_classroom_steps_pass_the_correct_and_fail_the_buggy(classroom: Path, example: str, failing: set[str],
                                                            tmp_path: Path) -> None:
    for step in graded_steps(classroom):
        code, worth = run_step(classroom, step, EXAMPLES / example, tmp_path)
        layer = step["with"]["test-name"]
        assert worth == step["with"]["max-score"], f"{layer}: the command grades {worth} points"
        assert (code != 0) == (layer in failing), f"{layer} on {example}: exit code {code}"
