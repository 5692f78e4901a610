"""The hypothesis profiles (`--profile`) and how many cases each check draws (`--examples`).

In the grading profile each check draws its measured count (examples.toml, written by `python -m bench.kill_curve`):
twice the examples it needed, over the mutant bank, to kill every mutant it kills with 300, and at least 3. A check
the bank gives no measurement for draws the profile's max_examples.
"""

import functools
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

# No explain phase: after shrinking a failure, hypothesis re-runs the check about a hundred times to mark which parts
# of the case do not matter. The harness reports the shrunk case itself, so those runs only cost time: 15.6 of the
# 17 s of a failing "backward matches finite differences" on Linear.
_COMMON = {"deadline": None, "database": None, "print_blob": False, "report_multiple_bugs": False,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
           "phases": tuple(phase for phase in Phase if phase is not Phase.explain)}
PROFILES = {  # grading is derandomized: every run, and every student, faces the same examples
    "grading": {"derandomize": True, "max_examples": 25},
    "dev": {"derandomize": True, "max_examples": 8},
    "thorough": {"derandomize": False, "max_examples": 300},
}
MEASURED = Path(__file__).with_name("examples.toml")
MEASURED_IN = ("grading", "dev")  # the profiles whose checks draw the measured counts (dev: at most its own)


def load(name: str) -> None:
    """Register every profile with hypothesis and make `name` the one in force."""
    for each, values in PROFILES.items():
        settings.register_profile(each, **values, **_COMMON)
    settings.load_profile(name)


def read_counts(path: Path) -> dict[str, int]:
    """The [examples] table of a counts file: check name -> cases it draws (a ValueError names what is wrong)."""
    try:
        table = tomllib.loads(path.read_text()).get("examples", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: {error}") from None
    wrong = [name for name, count in table.items() if type(count) is not int or count < 1]
    if not isinstance(table, dict) or wrong:
        raise ValueError(f"{path}: [examples] must map check names to positive integers ({', '.join(wrong)})")
    return table


def counts(given: str | None) -> int | dict[str, int] | None:
    """What `--examples` asks for: one count for every check, a table per check (a .toml), or None (the profile's)."""
    if given is None:
        return None
    if given.isdigit() and int(given) > 0:
        return int(given)
    if given.endswith(".toml"):
        return read_counts(Path(given))
    raise ValueError(f"{given!r} is neither a positive number nor a .toml file of counts per check")


def examples_for(check: str, profile: str, given: int | dict[str, int] | None) -> int:
    """How many cases `check` draws in this run."""
    most = PROFILES[profile]["max_examples"]
    if isinstance(given, int):
        return given
    if given is None and profile not in MEASURED_IN:
        return most
    table = given if given is not None else _measured()
    return min(table.get(check, most), most) if profile == "dev" else table.get(check, most)


@functools.cache
def _measured() -> dict[str, int]:
    return read_counts(MEASURED)
