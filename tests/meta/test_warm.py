"""Warm graders (nn_harness/grading/warm.py): grade-all's runs forked from a process that imported the harness once."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from nn_harness.grading import warm


def alive(pid: int) -> bool:
    """Running, not gone nor a zombie waiting for its reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def grader():
    found = warm.WarmGrader()
    yield found
    found.close()


def test_each_run_is_a_child_of_one_warm_grader_with_its_output_in_its_log(grader, tmp_path: Path) -> None:
    first = grader.spawn(["--help"], tmp_path / "first.txt")
    assert first.wait(120) == 0
    assert "usage: nn-harness" in (tmp_path / "first.txt").read_text()
    zygote = grader.process.pid
    second = grader.spawn(["--no-such-option-anywhere"], tmp_path / "second.txt")
    assert second.wait(60) == 4  # pytest's usage error, as a cold run exits
    assert grader.process.pid == zygote and second.pid != first.pid
    assert "nn-harness: could not grade (exit code 4)" in (tmp_path / "second.txt").read_text()


def test_a_run_is_its_own_process_group_and_a_stopped_run_reports_its_signal(grader, tmp_path: Path) -> None:
    child = grader.spawn(["--impl", str(tmp_path / "hang.py"), "-m", "Linear"], tmp_path / "log.txt")
    (tmp_path / "hang.py").write_text("import time\ntime.sleep(10**6)\n")
    assert os.getpgid(child.pid) == child.pid  # grade-all stops it with its sandboxes as one group
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.5)
    os.killpg(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL


def test_a_lost_grader_ends_its_run_and_is_started_again(grader, tmp_path: Path) -> None:
    child = grader.spawn(["--impl", str(tmp_path / "hang.py"), "-m", "Linear"], tmp_path / "log.txt")
    (tmp_path / "hang.py").write_text("import time\ntime.sleep(10**6)\n")
    lost = grader.process.pid
    os.kill(lost, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    time.sleep(0.5)
    assert not alive(child.pid), "its run is stopped with it, never left orphaned"
    again = grader.spawn(["--help"], tmp_path / "again.txt")
    assert again.wait(120) == 0 and grader.process.pid != lost
