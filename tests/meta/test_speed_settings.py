"""What a run draws and how long it may take: example counts per check (nn_harness/cases/profiles.py) and deadlines
per check (nn_harness/run/deadlines.py), both measured data."""

from pathlib import Path

import pytest

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
