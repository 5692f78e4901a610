"""Each check's deadline, from how long impl/ needs for it on this machine.

reference_times.toml (written by `python -m bench.speed --write-deadlines`) holds impl/'s seconds for each check, as
the grading profile draws it, and the seconds a small calibration workload took on the machine that measured them.
A run times the same workload (once per process), so a check's deadline is FLOOR + MULTIPLE x its seconds there x
(this machine's workload seconds / that machine's). A check with no reference (a layer impl/ lacks) gets DEFAULT.
`--check-timeout N` gives every check one flat deadline instead.

The multiple is generous by design: a correct submission may loop in Python where impl/ is vectorized (a Conv2d over
every output position is 100 times slower than impl/'s), and a deadline that fails it is a false alarm. What the
deadline is for is a submission that hangs: that costs a floor's worth of seconds, once per layer.
"""

from __future__ import annotations

import functools
import statistics
import time
import tomllib
from pathlib import Path

import numpy as np

FLOOR = 30.0
MULTIPLE = 200.0
DEFAULT = 60.0  # seconds, for a check with no reference time
TABLE = Path(__file__).with_name("reference_times.toml")


def calibrate() -> float:
    """Seconds this machine takes for a fixed workload of small NumPy calls in a Python loop (what a layer's checks
    do), the median of three."""
    a = np.random.default_rng(0).standard_normal((24, 24))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(4000):
            b = np.maximum(a @ a, 0.0)
            sum(float(v) for v in b.sum(axis=0)[:8])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@functools.cache
def reference() -> tuple[float, dict[str, float]]:
    """(the measuring machine's calibration seconds, impl/'s seconds per check: "Layer: check" -> seconds)."""
    try:
        data = tomllib.loads(TABLE.read_text())
        return float(data["calibration"]), {str(k): float(v) for k, v in data.get("seconds", {}).items()}
    except (OSError, KeyError, ValueError, TypeError, tomllib.TOMLDecodeError):
        return 0.0, {}


@functools.cache
def speed() -> float:
    """How much slower this machine is than the measuring one (within 0.25 and 20: one noisy timing must not make
    every deadline a floor, nor an hour)."""
    measured, _ = reference()
    return min(max(calibrate() / measured, 0.25), 20.0) if measured > 0 else 1.0


def measured(name: str) -> bool:
    """Whether impl/'s time for the check `name` is in the table (not so for training to a target accuracy: its
    deadline is its time budget's)."""
    return name in reference()[1]


def deadline(name: str) -> float:
    """The deadline of the check `name` ("Layer: check"), in seconds."""
    _, seconds = reference()
    return FLOOR + MULTIPLE * seconds[name] * speed() if name in seconds else DEFAULT


def describe() -> str:
    """The header's line."""
    _, seconds = reference()
    if not seconds:
        return f"check deadlines: {DEFAULT:g} s each (no reference times: {TABLE.name} is missing)"
    return (f"check deadlines: {FLOOR:g} s + {MULTIPLE:g} x impl/'s time for the check, x{speed():.2f} on this "
            f"machine ({min(seconds.values()) * MULTIPLE * speed() + FLOOR:.0f} to "
            f"{max(seconds.values()) * MULTIPLE * speed() + FLOOR:.0f} s); --check-timeout N for one flat deadline")


def write(seconds: dict[str, float], calibration: float, note: str) -> None:
    """The table, as bench/speed.py measured it."""
    TABLE.write_text(f"# impl/'s seconds per check, for the deadlines (nn_harness/run/deadlines.py). {note}\n"
                     f"calibration = {calibration:.6f}  # seconds of deadlines.calibrate() on that machine\n\n[seconds]\n"
                     + "".join(f'"{name}" = {value:.4f}\n' for name, value in sorted(seconds.items())))
