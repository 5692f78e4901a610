"""Broken and hostile submissions (tests/meta/hostile/): the grading run always completes with a full report.

Each member is graded in a subprocess, `nn-harness --impl <member> --grade-json <file> -m "Linear or ReLU"`, with
a time limit per check (a small one for the members that hang). The run must finish, results.json must be valid
Gradescope output listing every collected check, the exit code must be non-zero, and no broken member may score
full marks; the control member and impl/ must score full marks. Run them in parallel:
`pytest -n auto tests/meta/test_hostile.py`.

A member's layers are wrong unless its attack succeeds, and would score full marks if it did: less than full marks
is the proof that the defence held (the submission runs in a sandbox process: nn_harness/sandbox/client.py).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the suite in subprocesses: CI runs these with -m slow

ROOT = Path(__file__).resolve().parents[2]
BANK = Path(__file__).resolve().parent / "hostile"
MEMBERS = sorted(p.stem for p in BANK.glob("*.py") if not p.name.startswith("_"))
SELECT = "Linear or ReLU"
# Seconds per check. A passing check of the dev profile takes well under one; a failing one shrinks its example
# through ~1,000 requests to the sandbox, 3-20 s on a loaded 2-core machine: too close to a small limit, which would
# replace the member's own failure message with "timed out". Members that hang get the small limit.
CHECK_TIMEOUT = 60
HANG_TIMEOUT = 8
HANGING = {"import_hangs", "infinite_loop"}

# What the report must say somewhere for a member (its own failure messages).
EXPECTED_WORDS = {
    "syntax_error": "SyntaxError",
    "raise_at_import": "breaks at import",
    "import_hangs": "timed out after",
    "import_exits": "exited with code 0",
    "raise_in_forward": "raised ValueError",
    "wrong_shape": "expected shape",
    "returns_none": "got None",
    "nan_output": "NaN",
    "infinite_loop": "timed out after",
    "huge_allocation": "MemoryError",
    "sys_exit": "raised SystemExit",
    "os_exit": "ended during the check: it exited with code 0",
    "segfault": "killed by signal SIGSEGV",
    "keyboard_interrupt": "raised KeyboardInterrupt",
    # the sandbox has NumPy and the standard library only: its pytest is a stand-in (nn_harness/sandbox/imports.py)
    "pytest_exit": "pytest.exit: the submission imports pytest, which this assignment does not allow",
    # numpy and the harness patched in the sandbox: the comparisons run in the grader's process, untouched
    "patch_numpy": "differs",
    "patch_harness": "differs",
    "patch_in_forward": "differs",
    "gc_plugin_rewrites_reports": "differs",  # no pytest Config in the sandbox to register a plugin with
    "import_solution_by_name": "differs",  # the grader's checkout is not in the sandbox's root
    "import_torch_by_name": "differs",  # site-packages is an empty folder there (were torch mapped, the maps check would fail it)
    "read_mnist_labels": "differs",
    "write_results_file": "differs",
    "kill_parent": "differs",  # it runs as a uid of its own: it can signal no process of the grader
    "fork_bomb": "differs",
    "fill_disk": "File too large",
    "lying_array": "expected a numpy.ndarray",  # objects stay in the sandbox: the grader gets a handle, not an array
    "huge_array": "MemoryError",
}

SANDBOX_IMPORTS = {"import_solution_by_name", "import_torch_by_name"}  # they import fine; their attacks fail later

# What defends against these: the sandbox's own uid and (for the last two) its own root, which holds only its folder,
# the standard library, NumPy and the system's libraries. Both need a root grader; the root of its own also needs
# CAP_SYS_ADMIN (the report's header says).
NEEDS_ROOT = {"kill_parent": "without root the sandbox runs under the grader's uid and may signal its processes",
              "import_solution_by_name": "without root nothing is hidden: the grader's checkout is importable",
              "read_mnist_labels": "without root nothing is hidden: the MNIST folder is readable"}
NEEDS_NAMESPACE = {"import_solution_by_name", "read_mnist_labels"}
# The grader's configuration per member: it names its MNIST folder (when there is one), which the member then tries.
SHARED_MNIST = ROOT.parent / "shared" / "mnist"
MEMBER_ENV = {"read_mnist_labels": {"MNIST_DIR": str(SHARED_MNIST)} if SHARED_MNIST.is_dir() else {}}


def grade(impl: Path | str, out: Path, *extra: str, timeout: float = CHECK_TIMEOUT, select: str = SELECT,
          env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    command = [sys.executable, "-m", "nn_harness", "--impl", str(impl), "-n", "2", "-m", select,
               "--grade-json", str(out), "--check-timeout", str(timeout), "--profile", "dev",
               "-p", "no:cacheprovider", *extra]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NN_")}, **(env or {})}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert out.is_file(), f"no results.json:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result, json.loads(out.read_text())


def assert_valid(report: dict) -> None:
    assert isinstance(report["score"], float) and isinstance(report["max_score"], float)
    assert isinstance(report["execution_time"], int) and isinstance(report["output"], str)
    for test in report["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}, test
        assert test["status"] in ("passed", "failed") and test["visibility"] == "visible"
        assert 0 <= test["score"] <= test["max_score"]
        assert (test["score"] == test["max_score"]) == (test["status"] == "passed") or test["max_score"] == 0
    assert report["score"] == pytest.approx(sum(t["score"] for t in report["tests"]))
    names = [t["name"] for t in report["tests"]]
    assert len(names) == len(set(names)), "one entry per layer and check"


@pytest.fixture(scope="module")
def full_marks(tmp_path_factory) -> dict:
    result, report = grade("impl", tmp_path_factory.mktemp("impl") / "results.json")
    assert result.returncode == 0, result.stdout[-3000:]
    return report


def test_impl_scores_full_marks(full_marks):
    assert_valid(full_marks)
    assert full_marks["score"] == full_marks["max_score"] > 0
    assert {t["name"].split(":")[0] for t in full_marks["tests"]} == {"Linear", "ReLU"}


def sandbox_processes(name: str) -> list[int]:
    """Processes still running the member `name` in a sandbox (their command line names its copy)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"nn_harness.sandbox.jail" in command and f"/sub/{name}.py".encode() in command:
            found.append(int(pid))
    return found


@pytest.mark.parametrize("member", MEMBERS)
def test_member_gets_a_complete_report(member, tmp_path, full_marks):
    if member in NEEDS_ROOT and os.geteuid() != 0:
        pytest.skip(f"{member}: needs a root grader ({NEEDS_ROOT[member]})")
    # import_torch_by_name: also the submission's NumPy-only check ("graded"), which a mapped torch must fail
    select = f"{SELECT} or graded" if member == "import_torch_by_name" else SELECT
    result, report = grade(BANK / f"{member}.py", tmp_path / "results.json", select=select,
                           timeout=HANG_TIMEOUT if member in HANGING else CHECK_TIMEOUT, env=MEMBER_ENV.get(member))
    log = f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert_valid(report)
    if member in NEEDS_NAMESPACE and "own root" not in report["output"]:
        pytest.skip(f"{member}: the sandbox had no root of its own, so nothing was hidden ({NEEDS_ROOT[member]})")
    names = {t["name"] for t in report["tests"]}
    if select != SELECT:
        names = {name for name in names if not name.startswith("Submission:")}
    assert names == {t["name"] for t in full_marks["tests"]}, f"every collected check must be in the report\n{log}"
    if select == SELECT:
        assert report["max_score"] == full_marks["max_score"]
    if member.startswith("control"):
        assert result.returncode == 0 and report["score"] == report["max_score"], log
        return
    assert result.returncode > 0, f"{member}: exit code {result.returncode} (negative: the grader was killed)\n{log}"
    assert report["score"] < report["max_score"], f"{member} scored full marks\n{log}"
    word = EXPECTED_WORDS[member]
    text = report["output"] + "\n".join(t["output"] for t in report["tests"])
    assert word in text, f"{member}: the report should say {word!r}:\n{json.dumps(report, indent=1)[:4000]}"
    if "import" in member and member not in SANDBOX_IMPORTS or member == "syntax_error":
        assert report["score"] == 0
        assert report["output"].count("could not import the implementation") == 1, "the error is shown once"
        assert all(word not in t["output"] for t in report["tests"]), "...not in every check"
    if "mapped after this check" in text:  # a framework in the sandbox fails the NumPy-only check too
        numpy_only = [t for t in report["tests"] if t["name"].lower() == "submission: uses numpy only"]
        assert numpy_only and all(t["status"] == "failed" for t in numpy_only), json.dumps(report, indent=1)[:4000]
    if member == "write_results_file":  # the report is still the harness's own, not the member's rewrite
        assert report["output"].startswith("nn-harness:"), report["output"][:500]
        assert all(t["status"] == "passed" or t["name"] in t["output"] for t in report["tests"]), report
        assert any(t["status"] == "failed" for t in report["tests"])
    if member == "fork_bomb":  # the grader killed every process the sandbox left behind (each would linger 60 s)
        left = sandbox_processes(member)
        assert not left, f"sandbox processes still running after the run: {left}"


def test_interrupted_run_still_writes_the_report(tmp_path, full_marks):
    """-x stops at the first failure: the checks not reached are in the report, failed, with the reason."""
    result, report = grade(BANK / "raise_in_forward.py", tmp_path / "results.json", "-x")
    assert_valid(report)
    assert {t["name"] for t in report["tests"]} == {t["name"] for t in full_marks["tests"]}
    assert any(t["output"].startswith("not run:") for t in report["tests"]), report


def test_every_member_is_expected():
    assert set(MEMBERS) - {"control_correct"} == set(EXPECTED_WORDS)


def test_a_layer_that_hangs_costs_one_deadline(tmp_path):
    """Linear.forward never returns: the first Linear check waits out its deadline (and another worker's, when it had
    started one of its own meanwhile), every other Linear check in every worker fails at once, naming it; ReLU's
    checks are not touched."""
    _, report = grade(BANK / "infinite_loop.py", tmp_path / "results.json", timeout=HANG_TIMEOUT)
    linear = [t for t in report["tests"] if t["name"].startswith("Linear:")]
    waited = [t for t in linear if "timed out after" in t["output"] and "not run:" not in t["output"]]
    at_once = [t for t in linear if "not run: in check" in t["output"]]
    assert 1 <= len(waited) <= 2, [t["output"][:200] for t in linear]  # at most one per worker at a time (-n 2)
    assert at_once and all("it timed out after" in t["output"] and t["status"] == "failed" for t in at_once)
    # ReLU's checks are its own (a loaded machine may still time one of them out at this small limit)
    assert not any("Linear" in t["output"] for t in report["tests"] if t["name"].startswith("ReLU:"))
