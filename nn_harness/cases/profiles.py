"""The hypothesis profiles (`--profile`): how many cases each check draws, and whether every run draws the same."""

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "database": None, "print_blob": False, "report_multiple_bugs": False,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
PROFILES = {  # grading is derandomized: every run, and every student, faces the same examples
    "grading": {"derandomize": True, "max_examples": 25},
    "dev": {"derandomize": True, "max_examples": 8},
    "thorough": {"derandomize": False, "max_examples": 300},
}
# The contract's properties (dtype kept, input untouched, gradients accumulate, zero_grad zeroes, no stale cache,
# train/eval) fail on nearly every case where they fail at all; the breadth of shapes and arguments is what the
# value checks (forward, backward, finite differences: the profile's max_examples) need. Half the checks are contract
# checks, so this is a third of a run's time (benchmarks: bench/class_throughput.py).
CONTRACT_EXAMPLES = {"grading": 10, "dev": 4, "thorough": 300}


def load(name: str) -> None:
    """Register every profile with hypothesis and make `name` the one in force."""
    for each, values in PROFILES.items():
        settings.register_profile(each, **values, **_COMMON)
    settings.load_profile(name)
