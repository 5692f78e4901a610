"""`python -m bench.sandbox_overhead`: the wall time of a whole grading run with the sandbox, beside the same run at
a revision before it (the submission imported in the pytest workers), in one run of this script.

Each round grades impl/ once in each checkout, alternating which goes first, with the same command:
`python -m nn_harness --impl impl --grade-json FILE -p no:cacheprovider [extra]`; the baseline checkout is a git
worktree of --baseline made for the run and removed after. Prints every run, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE_SANDBOX = "59355ea"  # the last revision that ran the submission inside the pytest workers


def grade(checkout: Path, extra: list[str]) -> tuple[float, str]:
    """(wall seconds, score) of one grading run of impl/ in `checkout`."""
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results.json"
        command = [sys.executable, "-m", "nn_harness", "--impl", "impl", "--grade-json", str(results),
                   "-p", "no:cacheprovider", *extra]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=checkout, capture_output=True, text=True)
        wall = time.perf_counter() - start
        try:
            report = json.loads(results.read_text())
            score = f"{report['score']:g} / {report['max_score']:g}"
        except (OSError, ValueError, KeyError):
            score = f"no results.json (exit {done.returncode}): {done.stdout[-300:]}"
    return wall, score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BEFORE_SANDBOX, help=f"revision to compare with (default {BEFORE_SANDBOX})")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="more arguments for both runs (after --), e.g. -- -n 2")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        baseline = Path(folder) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            times: dict[str, list[float]] = {"sandbox": [], "baseline": []}
            print(f"grading impl/ ({' '.join(args.extra) or 'default options'}); baseline {args.baseline}")
            for round_ in range(args.rounds):
                order = [("sandbox", ROOT), ("baseline", baseline)]
                for name, checkout in order if round_ % 2 == 0 else order[::-1]:
                    wall, score = grade(checkout, args.extra)
                    times[name].append(wall)
                    print(f"  round {round_ + 1} {name:<9} {wall:7.1f} s  score {score}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, capture_output=True)
    sandbox, before = statistics.median(times["sandbox"]), statistics.median(times["baseline"])
    print(f"{'':<10} {'median':>8}  runs")
    for name, median in (("sandbox", sandbox), ("baseline", before)):
        print(f"{name:<10} {median:7.1f} s  {', '.join(f'{t:.1f}' for t in times[name])}")
    print(f"ratio sandbox / baseline: {sandbox / before:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
