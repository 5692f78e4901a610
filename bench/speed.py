"""`python -m bench.speed`: how long grading one submission takes, beside the targets (issue 21), in one run.

    python -m bench.speed [--rounds 1] [--skip-hang] [--write-deadlines]

Each row is the ordinary command on impl/ (`python -m nn_harness --impl impl --junitxml FILE`), with the data the
caller's environment gives (MNIST_DIR: the full MNIST; else the embedded subset):
- every check with the default workers (-n auto) and without any (-n 0): wall seconds, checks, cases drawn and
  sandbox round trips, summed from the JUnit report's properties;
- impl/ with a ReLU.forward that never returns: the whole run's wall seconds (its first check waits out one deadline;
  the others fail at once).
`--write-deadlines` writes impl/'s seconds per check, from the -n 0 run, for the checks' deadlines
(nn_harness/run/deadlines.py), with the calibration workload's seconds on this machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

from nn_harness.run import deadlines

ROOT = Path(__file__).resolve().parent.parent
FORWARD = "    def forward(self, input: np.ndarray) -> np.ndarray:\n"
HANG = (FORWARD, FORWARD + "        while True:\n            pass\n")


def grade(impl: Path, workers: str, scratch: Path) -> dict[str, float]:
    junit = scratch / f"junit-{time.monotonic_ns()}.xml"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nn_harness", "--impl", str(impl), "-n", workers, "--junitxml", str(junit),
                    "-p", "no:cacheprovider"], cwd=scratch, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    found = {"wall": wall, "checks": 0, "failed": 0, "examples": 0, "requests": 0, "seconds": {}}
    for case in ET.parse(junit).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "layer" in props and props.get("check") != "reaches target accuracy":  # training has its time budget
            found["seconds"][f"{props['layer']}: {props.get('check')}"] = float(case.get("time", 0))
        found["checks"] += 1
        found["failed"] += case.find("failure") is not None or case.find("error") is not None
        found["examples"] += int(props.get("examples drawn", 0))
        found["requests"] += int(props.get("sandbox requests", 0))
    return found


def hanging_relu(into: Path) -> Path:
    folder = into / "hanging_relu"
    shutil.copytree(ROOT / "impl", folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "activations.py"
    text = path.read_text()
    at = text.index("class ReLU")
    head, tail = text[:at], text[at:]
    path.write_text(head + tail.replace(*HANG, 1))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="runs per row (the median is shown, then every run's "
                        "seconds: a shared machine's speed can vary by a third between minutes)")
    parser.add_argument("--skip-hang", action="store_true")
    parser.add_argument("--write-deadlines", action="store_true",
                        help="write impl/'s seconds per check (the -n 0 run) for the deadlines: "
                             f"{deadlines.TABLE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    calibration = deadlines.calibrate()  # before the runs, on an idle machine
    print(f"MNIST: {os.environ.get('MNIST_DIR') or 'the embedded subset'}; {os.cpu_count()} CPUs; "
          f"{args.rounds} round(s) per row", flush=True)
    rows = [("impl/, every check, -n auto", ROOT / "impl", "auto", "<= 12 s"),
            ("impl/, every check, -n 0", ROOT / "impl", "0", "<= 20 s")]
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        if not args.skip_hang:
            rows.append(("impl/ with a hanging ReLU.forward, -n auto", hanging_relu(scratch), "auto", "<= 75 s"))
        print(f"{'run':<45} {'wall s':>7} {'target':>8} {'checks':>6} {'failed':>6} {'cases':>6} {'requests':>8}"
              f" {'target':>9}")
        for name, impl, workers, target in rows:
            runs = [grade(impl, workers, scratch) for _ in range(args.rounds)]
            wall = statistics.median(run["wall"] for run in runs)
            last = runs[-1]
            seconds = ", ".join(f"{run['wall']:.1f}" for run in runs)
            spread = f"  rounds: {seconds}" if len(runs) > 1 else ""
            print(f"{name:<45} {wall:>7.1f} {target:>8} {last['checks']:>6} {last['failed']:>6} "
                  f"{last['examples']:>6} {last['requests']:>8} {'<= 8,000' if 'hanging' not in name else '':>9}"
                  f"{spread}", flush=True)
            if workers == "0" and "hanging" not in name and args.write_deadlines and not last["failed"]:
                deadlines.write(last["seconds"], calibration, f"Written by `python -m bench.speed --write-deadlines` "
                                f"on {date.today()}, {os.cpu_count()} CPUs, -n 0.")
                print(f"written: {deadlines.TABLE.relative_to(ROOT)} ({len(last['seconds'])} checks; calibration "
                      f"{calibration:.4f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
