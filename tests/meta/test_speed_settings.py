"""What a run draws and how long it may take: example counts per check (nn_harness/cases/profiles.py) and deadlines
per check (nn_harness/run/deadlines.py), both measured data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from nn_harness.cases import profiles
from nn_harness.run import deadlines


def test_the_grading_profile_draws_the_measured_counts_and_the_others_their_own(tmp_path: Path) -> None:
    table = tmp_path / "counts.toml"
    table.write_text('[examples]\n"forward matches torch" = 6\n"no stale cache" = 40\n')
    counts = profiles.counts(str(table))
    assert profiles.examples_for("forward matches torch", "grading", counts) == 6
    assert profiles.examples_for("gradients accumulate", "grading", counts) == 25  # not measured: the profile's
    assert profiles.examples_for("no stale cache", "dev", counts) == 8  # dev: at most its own
    assert profiles.examples_for("forward matches torch", "thorough", None) == 300
    assert profiles.examples_for("forward matches torch", "grading", 3) == 3  # --examples 3: every check


def test_every_measured_count_names_a_check_of_the_suite_and_is_at_least_3() -> None:
    from nn_harness.checks import dropout, kinks, layer, loss, optim, recurrent

    names = {name.replace("_", " ") for module in (dropout, kinks, layer, loss, optim, recurrent)
             for name in dir(module) if not name.startswith("_")}
    measured = profiles.read_counts(profiles.MEASURED)
    assert measured, "nn_harness/cases/examples.toml has no counts: run python -m bench.kill_curve --write"
    assert all(count >= 3 for count in measured.values())
    assert set(measured) <= names | {"loss " + n for n in names}, set(measured) - names


@pytest.mark.parametrize(("given", "why"), [("0", "neither a positive number"), ("ten", "neither"),
                                            ("missing.toml", "missing.toml")])
def test_a_wrong_examples_option_is_refused(given: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        profiles.counts(given)


def test_no_profile_runs_hypothesis_explain_phase_after_shrinking() -> None:
    for name in profiles.PROFILES:  # registered when the harness's plugin configured this run
        phases = settings.get_profile(name).phases
        assert Phase.shrink in phases and Phase.explain not in phases, (name, phases)


GROUPED = """\
import os
import pytest

@pytest.mark.parametrize("i", range(6))
@pytest.mark.xdist_group("shared")
def test_grouped(i, tmp_path_factory):
    (tmp_path_factory.getbasetemp().parent / f"grouped{i}").write_text(os.environ["PYTEST_XDIST_WORKER"])

@pytest.mark.parametrize("i", range(6))
def test_free(i):
    pass
"""


def test_dist_loadgroup_runs_a_group_on_one_worker(tmp_path: Path) -> None:
    """CI runs the slow meta-tests with --dist loadgroup so that a class graded by a module fixture is graded once
    (tests/meta/test_course_banks.py). With pytest 9.2 and pytest-xdist 3.8 the groups are silently ignored (xdist
    sets item._nodeid, which pytest 9.2 no longer reads), and CI's slow tests took 6 minutes longer: hence the dev
    extra's pytest<9.2, and this test."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    env = {**os.environ, "PYTEST_ADDOPTS": ""}
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                          "-q", "--basetemp", str(tmp_path / "base"), str(tmp_path / "test_grouped.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    workers = {(tmp_path / "base" / f"grouped{i}").read_text() for i in range(6)}
    assert len(workers) == 1, f"the group ran on {sorted(workers)}"


def test_a_check_deadline_is_a_floor_plus_a_multiple_of_impls_time_on_this_machine(monkeypatch) -> None:
    monkeypatch.setattr(deadlines, "reference", lambda: (0.01, {"ReLU: forward matches torch": 0.05}))
    monkeypatch.setattr(deadlines, "speed", lambda: 2.0)
    assert deadlines.deadline("ReLU: forward matches torch") == deadlines.FLOOR + deadlines.MULTIPLE * 0.05 * 2.0
    assert deadlines.deadline("Mystery: forward matches torch") == deadlines.DEFAULT
    assert "x2.00 on this machine" in deadlines.describe()


def test_this_machines_speed_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(deadlines, "reference", lambda: (1e-9, {}))
    deadlines.speed.cache_clear()
    try:
        assert deadlines.speed() == 20.0  # a noisy or absurd calibration never makes a deadline an hour
    finally:
        deadlines.speed.cache_clear()


@pytest.mark.parametrize(("given", "threads"), [(None, 1), ("2", 2), ("many", 1)])
def test_the_twins_run_on_one_torch_thread_unless_the_user_says_otherwise(monkeypatch: pytest.MonkeyPatch,
                                                                          given: str | None, threads: int) -> None:
    import torch

    from nn_harness.run.plugin import one_torch_thread

    before = torch.get_num_threads()
    if given is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", given)
    try:
        one_torch_thread()
        assert torch.get_num_threads() == threads
        assert os.environ["OMP_NUM_THREADS"] == (given or "1")  # what xdist's workers inherit
    finally:
        torch.set_num_threads(before)
