"""Broken and hostile submissions (tests/meta/hostile/): the grading run always completes with a full report.

Each member is graded in a subprocess, `nn-harness --impl <member> --grade-json <file> -m "Linear or ReLU"`, with
small time limits. The run must finish, results.json must be valid Gradescope output listing every collected
check, the exit code must be non-zero, and no broken member may score full marks; the control member and impl/
must score full marks. Run them in parallel: `pytest -n auto tests/meta/test_hostile.py`.
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
CHECK_TIMEOUT = 8  # seconds: a check of the dev profile takes well under one, even on a loaded machine

# What the report must say somewhere for a member (its own failure messages).
EXPECTED_WORDS = {
    "syntax_error": "SyntaxError",
    "raise_at_import": "breaks at import",
    "import_hangs": "did not finish within",
    "import_exits": "ended the Python process",
    "raise_in_forward": "raised ValueError",
    "wrong_shape": "expected shape",
    "returns_none": "got NoneType",
    "nan_output": "NaN",
    "infinite_loop": "timed out after",
    "huge_allocation": "MemoryError",
    "sys_exit": "SystemExit",
    "os_exit": "os._exit(0)",
    "segfault": "Segmentation fault",
    "keyboard_interrupt": "KeyboardInterrupt",
    "pytest_exit": "Exit",
    "patch_numpy": "tampering detected",
    "patch_harness": "tampering detected",
    "patch_in_forward": "tampering detected",
}


def grade(impl: Path | str, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    command = [sys.executable, "-m", "harness", "--impl", str(impl), "-n", "2", "-m", SELECT,
               "--grade-json", str(out), "--check-timeout", str(CHECK_TIMEOUT), "--profile", "dev",
               "-p", "no:cacheprovider", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_")}
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


@pytest.mark.parametrize("member", MEMBERS)
def test_member_gets_a_complete_report(member, tmp_path, full_marks):
    result, report = grade(BANK / f"{member}.py", tmp_path / "results.json")
    log = f"{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert_valid(report)
    assert {t["name"] for t in report["tests"]} == {t["name"] for t in full_marks["tests"]}, \
        f"every collected check must be in the report\n{log}"
    assert report["max_score"] == full_marks["max_score"]
    if member.startswith("control"):
        assert result.returncode == 0 and report["score"] == report["max_score"], log
        return
    assert result.returncode != 0, f"{member}: exit code 0\n{log}"
    assert report["score"] < report["max_score"], f"{member} scored full marks\n{log}"
    word = EXPECTED_WORDS[member]
    text = report["output"] + "\n".join(t["output"] for t in report["tests"])
    assert word in text, f"{member}: the report should say {word!r}:\n{json.dumps(report, indent=1)[:4000]}"
    if "import" in member or member == "syntax_error":
        assert report["score"] == 0
        assert report["output"].count("could not import the implementation") == 1, "the error is shown once"
        assert all(word not in t["output"] for t in report["tests"]), "...not in every check"


def test_interrupted_run_still_writes_the_report(tmp_path, full_marks):
    """-x stops at the first failure: the checks not reached are in the report, failed, with the reason."""
    result, report = grade(BANK / "raise_in_forward.py", tmp_path / "results.json", "-x")
    assert_valid(report)
    assert {t["name"] for t in report["tests"]} == {t["name"] for t in full_marks["tests"]}
    assert any(t["output"].startswith("not run:") for t in report["tests"]), report


def test_every_member_is_expected():
    assert set(MEMBERS) - {"control_correct"} == set(EXPECTED_WORDS)
