"""However the suite is started, from whatever folder: nn-harness prints the header under -q, its reproduce lines run
where it ran (with their -p plugins), `pytest --impl PATH` runs the suite in both option spellings, and nothing is
written into the caller's folder (issue 12, points 1, 2 and 7)."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nn_harness.run import suite

ROOT = Path(__file__).resolve().parents[2]
BUGGY = ROOT / "examples" / "native_buggy"
CHECK = "tests/test_layers.py::test_backward_matches_torch[Linear]"  # fails on the buggy example (bias grad)
PLUGIN = "no_op_plugin"  # a course's own plugin, given with -p: the reproduce line must keep it


def test_node_ids_of_the_suite_resolve_against_the_harness(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = suite.suite_args(["--impl", "layers.py", CHECK], workers=None)
    assert str(ROOT / CHECK) in args and str(suite.TESTS) not in args  # only the check named
    assert args[args.index("--rootdir") + 1] == str(ROOT)


def test_the_whole_suite_without_meta_tests_when_no_test_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = suite.suite_args(["--impl", "layers.py", "-m", "Linear"], workers="0")
    assert args[:3] == [str(suite.TESTS), "--ignore", str(suite.TESTS / "meta")]
    assert args[args.index("-n") + 1] == "0"


def test_a_submission_inside_the_harness_tests_is_not_a_test_named():
    """The hostile bank's members lie under tests/: `--impl tests/meta/hostile/x.py` names a submission, and the run
    is the whole suite (it was taken for a named test, so no suite was added, and pytest, given no path, collected
    the whole checkout, meta-tests too)."""
    impl = str(ROOT / "tests" / "meta" / "hostile" / "nan_output.py")
    assert not suite.in_suite(impl) and suite.in_suite(str(ROOT / "tests" / "meta" / "test_hostile.py"))
    args = suite.suite_args(["--impl", impl, "-m", "Linear"], workers="0")
    assert args[:3] == [str(suite.TESTS), "--ignore", str(suite.TESTS / "meta")]


def test_a_grade_json_that_exists_already_is_overwritten(tmp_path):
    """`--grade-json FILE` (with a space) naming a results.json of an earlier run, for a submission under tests/: the
    run grades and rewrites it (it recursed until Python's limit: the harness's entry point started the suite from
    inside the suite)."""
    report = tmp_path / "results.json"
    report.write_text("{}")
    impl = ROOT / "tests" / "meta" / "hostile" / "nan_output.py"  # its Linear's forward gives NaN
    result = subprocess.run([sys.executable, "-m", "nn_harness", "--impl", str(impl), "-n", "0", "-m", "Linear",
                             "-k", "forward_matches_torch", "--profile", "dev", "--grade-json", str(report)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert '"Linear: forward matches torch"' in report.read_text()


def test_a_file_of_the_callers_own_named_tests_is_kept(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_layers.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert CHECK in suite.suite_args([CHECK], workers=None)


def test_grading_runs_write_no_pytest_cache_into_the_install():
    assert suite.QUIET_PLUGINS[:2] == ("-p", "no:cacheprovider")


@pytest.fixture
def student(tmp_path):
    """A student's folder holding only their code, with a plugin of the course beside it; HOME elsewhere."""
    folder = tmp_path / "student"
    shutil.copytree(BUGGY, folder / "nb")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / f"{PLUGIN}.py").write_text("")
    env = {**os.environ, "PYTHONPATH": str(plugins), "XDG_CACHE_HOME": str(tmp_path / "cache"), "NN_PROFILE": "dev"}
    return folder, env


def _run(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _outcome(result: subprocess.CompletedProcess) -> str:
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]


@pytest.mark.slow
def test_nn_harness_from_the_students_folder(student):
    folder, env = student
    result = _run([sys.executable, "-m", "nn_harness", "--impl", "nb/layers.py", "-p", PLUGIN, "-n", "0", "-m", "Linear",
                   "-k", "backward_matches_torch"], folder, env)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    # 1: the header, although nn-harness runs pytest with -q
    assert any(line.startswith("implementation: nb/layers.py") for line in lines), result.stdout[:2000]
    assert any(line.startswith("hypothesis profile: dev") for line in lines)
    # 7: nothing written where the student ran it (hypothesis's cache is the harness's own)
    assert sorted(p.name for p in folder.iterdir()) == ["nb"]
    # 2: the reproduce line, as printed, runs from the same folder and fails the same check
    reproduce = next(line.split("reproduce: ", 1)[1] for line in lines if "reproduce: " in line)
    assert f"-p {PLUGIN} " in reproduce and "no:cacheprovider" not in reproduce
    command = shlex.split(reproduce)
    again = _run([sys.executable, "-m", *command], folder, env)
    assert again.returncode == 1 and "1 failed" in _outcome(again), again.stdout[-3000:] + again.stderr[-3000:]
    assert sorted(p.name for p in folder.iterdir()) == ["nb"]


@pytest.mark.slow
@pytest.mark.parametrize("spelling", ["space", "equals"])
def test_pytest_impl_from_any_folder(student, spelling):
    folder, env = student
    impl = str(folder / "nb" / "layers.py")  # absolute, outside the checkout, as the README writes it
    given = ["--impl", impl] if spelling == "space" else [f"--impl={impl}"]
    for cwd in (folder, ROOT):
        result = _run([sys.executable, "-m", "pytest", *given, "-q", "-p", "no:cacheprovider", CHECK], cwd, env)
        assert result.returncode == 1 and "1 failed" in _outcome(result), \
            f"from {cwd}: " + result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(p.name for p in folder.iterdir()) == ["nb"]


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare(1) to make the "
                    "harness's install read-only in a mount namespace of the test's own")
def test_a_read_only_install_grades_and_leaves_nothing_behind(student):
    folder, env = student
    root = shlex.quote(str(ROOT))
    script = (f"mount --bind {root} {root} && mount -o remount,ro,bind {root} {root} && "
              f"! touch {root}/written 2>/dev/null && "  # it is read-only indeed
              f"{shlex.quote(sys.executable)} -m nn_harness --impl nb/layers.py -n 0 -m ReLU")
    result = _run(["unshare", "-m", "sh", "-c", script], folder, env)
    assert result.returncode == 1 and "2 failed, 9 passed" in _outcome(result), result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(p.name for p in folder.iterdir()) == ["nb"]
