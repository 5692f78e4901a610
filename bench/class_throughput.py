"""`python -m bench.class_throughput`: how fast `nn-harness grade-all` grades a class, at --jobs 1 and --jobs 2,
in one run of this script.

The class is --count copies of the examples/ submissions (every course style, correct and buggy, cycled in order),
graded with `--api auto` so each picks its own profile. Each setting grades the same class into a fresh results
folder. Prints submissions per minute, seconds per submission amortised, and the median and slowest wall seconds of
one submission per setting; `--cold` adds each setting without warm graders, `--class-folder` grades a folder of
one's own (a real class) instead, and `--course-banks` the 30 members of the class-like practical_dl banks
(tests/meta/course_banks: three template years of ten, correct and buggy, each as a student's modules.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def make_class(folder: Path, count: int) -> None:
    """`count` submissions: copies of the examples, numbered so every copy is a submission of its own."""
    for i in range(count):
        example = EXAMPLES[i % len(EXAMPLES)]
        shutil.copytree(example, folder / f"{i:03d}_{example.name}", ignore=shutil.ignore_patterns("__pycache__"))


def make_course_banks(folder: Path) -> None:
    """The three class-like banks as one class of 30: `<year>_<member>/modules.py`."""
    from tests.meta.course_banks import FILE, advanced_2019, basic_2018, current

    for year in (basic_2018.YEAR, advanced_2019.YEAR, current.YEAR):
        for member in year.members():
            home = folder / f"{year.name}_{member.name}"
            home.mkdir(parents=True)
            (home / FILE).write_text(year.source.apply(member))


def grade_all(submissions: Path, out: Path, jobs: int, extra: list[str], cold: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nn_harness", "grade-all", str(submissions), "--out", str(out),
                    "--jobs", str(jobs), *(["--cold"] if cold else []), "--", "--api", "auto", *extra], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def seconds_per_submission(out: Path) -> list[float]:
    return [json.loads(status.read_text())["seconds"] for status in out.glob("*/status.json")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="submissions in the class (default 100)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="settings to compare (default 1 2)")
    parser.add_argument("--cold", action="store_true", help="also grade each setting with --cold (a fresh interpreter "
                        "per submission instead of a warm grader), side by side")
    parser.add_argument("--class-folder", type=Path, help="grade this folder instead of copies of the examples")
    parser.add_argument("--course-banks", action="store_true", help="grade the 30 members of the class-like "
                        "practical_dl banks (tests/meta/course_banks) instead")
    parser.add_argument("extra", nargs="*", help="more harness arguments for every submission (after --)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        submissions = args.class_folder or Path(folder) / "class"
        if args.course_banks:
            make_course_banks(submissions)
        elif args.class_folder is None:
            make_class(submissions, args.count)
        count = len([p for p in submissions.iterdir() if not p.name.startswith(".")])
        what = ("the course banks" if args.course_banks else submissions if args.class_folder
                else f"copies of {len(EXAMPLES)} examples")
        print(f"{count} submissions ({what}), "
              f"harness args: --api auto {' '.join(args.extra)}")
        print(f"{'jobs':>4}  {'graders':>7}  {'wall s':>8}  {'subs/min':>8}  {'s/sub':>6}  {'median s/sub':>12}  "
              f"{'max s/sub':>9}  graded")
        for jobs in args.jobs:
            for cold in (False, True) if args.cold else (False,):
                out = Path(folder) / f"results-jobs{jobs}{'-cold' * cold}"
                wall = grade_all(submissions, out, jobs, args.extra, cold)
                each = seconds_per_submission(out)
                graded = sum(1 for status in out.glob("*/status.json")
                             if json.loads(status.read_text())["status"] == "graded")
                print(f"{jobs:>4}  {'cold' if cold else 'warm':>7}  {wall:>8.1f}  {60 * count / wall:>8.2f}  "
                      f"{wall / count:>6.1f}  {statistics.median(each):>12.1f}  {max(each):>9.1f}  {graded}/{count}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
