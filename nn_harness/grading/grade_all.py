"""`nn-harness grade-all` and `nn-harness gradebook`: grade a class's folder of submissions, then its gradebook.

Each submission is graded by the ordinary single-submission command (`nn-harness --impl ... --grade-json ...`),
forked by a warm grader (nn_harness/grading/warm.py: the harness imported once per job), in a process group of its
own, so a submission that hangs the grader or crashes it costs only its own row, and the batch itself never imports
a submission. See docs/classroom.md.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import pytest

from nn_harness.grading import gradebook, warm

SOURCES = (".py", ".ipynb")
RESERVED = ("--impl", "--grade-json", "--html")  # set by grade-all for each submission
HTML = "report.html"  # the visual report, beside results.json
PARTIAL, PARTIAL_HTML = "results.partial.json", "report.partial.html"  # a run's output until it counts as graded
# pytest-xdist workers per grading run. Measured on the 2-core machine (docs/classroom.md): with one run per core,
# workers of its own only add start-up cost, so -n 0 at every --jobs.
WORKERS = "0"
HARNESS = (sys.executable, "-m", "nn_harness")  # a cold run: the harness in a fresh interpreter (--cold)
GRACE_S = 10  # after SIGTERM, the harness writes its partial report and stops its sandboxes; then SIGKILL


# ---------------------------------------------------------------------------------------------------- discovery

@dataclass(frozen=True)
class Submission:
    name: str  # its folder in RESULTS
    impl: Path | None  # what --impl gets; None when it cannot be graded
    problem: str = ""  # why it cannot be graded


def visible(folder: Path) -> list[Path]:
    """A folder's entries as a submission's files: hidden entries and __pycache__ left out, sorted."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__pycache__")


def _is_package(path: Path) -> bool:
    return path.is_dir() and (path / "__init__.py").is_file()


def _imports(module: Path) -> set[str]:
    """Top-level names a module imports (an unparsable module imports nothing as far as we can tell)."""
    try:
        tree = ast.parse(module.read_text(errors="replace"))
    except (SyntaxError, ValueError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def main_modules(modules: list[Path]) -> list[Path]:
    """The modules of a folder that no other module of it imports: the submission's entry points. A student's
    layers.py importing their own utils.py has one, layers.py."""
    imported = {m: _imports(m) for m in modules}
    return [m for m in modules if not any(m.stem in imported[other] for other in modules if other != m)]


def resolve(entry: Path) -> tuple[Path | None, str]:
    """What to grade for one entry of SUBMISSIONS, or why there is nothing unambiguous to grade.

    A .py file, a notebook or a package folder is graded as it is. Any other folder (Gradescope's and GitHub
    Classroom's exports put each submission in one) is graded as the student runs it: the one .py file, notebook or
    package it holds; holding only .py modules, the one imported by none of the others (the main module; the others
    stay importable beside it), or with several such (a repository's scripts beside its layers) or none, the folder
    itself (the sandbox gathers what each file defines, and a file that fails to import costs only its own names:
    nn_harness/sandbox/loading.py); holding no code but one folder of code, what that folder holds, by the same rules
    (an upload zipped with its folder; layers in a folder without __init__.py)."""
    if entry.is_file() or _is_package(entry):
        return entry, ""
    candidates = [p for p in visible(entry) if (p.is_file() and p.suffix in SOURCES) or _is_package(p)]
    if len(candidates) == 1:
        return candidates[0], ""
    if not candidates:
        folders = [p for p in visible(entry) if p.is_dir() and any(f.suffix in SOURCES or _is_package(f)
                                                                     for f in visible(p))]
        if len(folders) == 1:  # an upload zipped with its folder, or layers in a folder without __init__.py
            return resolve(folders[0])
        if folders:
            return None, f"ambiguous: several folders of code ({', '.join(p.name for p in folders)}); keep one"
        return None, "no .py file, .ipynb notebook or package folder in it"
    if any(p.suffix != ".py" or p.is_dir() for p in candidates):
        return None, f"ambiguous: several things to grade ({', '.join(p.name for p in candidates)}); keep one"
    roots = main_modules(candidates)
    return (roots[0], "") if len(roots) == 1 else (entry, "")


def discover(folder: Path) -> list[Submission]:
    """Every submission in `folder`, sorted by name: .py and .ipynb files and folders (hidden entries and
    __pycache__ ignored, as are other files). A file's name drops its suffix unless another entry has that name."""
    entries = [p for p in visible(folder) if p.is_dir() or p.suffix in SOURCES]
    short = {p: p.name if p.is_dir() else p.stem for p in entries}
    taken = Counter(short.values())
    submissions = []
    for entry in entries:
        impl, problem = resolve(entry)
        name = short[entry] if taken[short[entry]] == 1 else entry.name
        submissions.append(Submission(name, impl.resolve() if impl else None, problem))
    return sorted(submissions, key=lambda s: s.name)


# ---------------------------------------------------------------------------------------------------- sharding

def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` with 1 <= K <= N (Slurm's array task ids and GitHub matrices count from 1)."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: expected K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: need 1 <= K <= N (shards are numbered 1 to N)")
    return k, n


def shard_of(name: str, n: int) -> int:
    """The shard (1..n) a submission belongs to: a hash of its name alone, so a submission stays in its shard when
    others are added or removed (a late submission graded later lands in the same shard's folder)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % n + 1


def in_shard(submissions: list[Submission], shard: tuple[int, int] | None) -> list[Submission]:
    if shard is None:
        return submissions
    k, n = shard
    return [s for s in submissions if shard_of(s.name, n) == k]


# ---------------------------------------------------------------------------------------------------- grading

@dataclass(frozen=True)
class Outcome:
    status: str  # "graded", "not graded: <why>" or "regrade failed: <why>; the previous grade was kept"
    seconds: float
    exit_code: int | None = None


class Running:
    """The grading processes alive now, so an interrupted batch stops them (they run in sessions of their own
    and do not get the terminal's Ctrl-C)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen] = set()

    def add(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._processes.add(process)

    def discard(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._processes.discard(process)

    def stop_all(self) -> None:
        with self._lock:
            processes = list(self._processes)
        for process in processes:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the run's process group (the harness then writes its partial report and stops its sandboxes),
    SIGKILL to whatever is left after a grace period."""
    for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def exit_reason(code: int) -> str:
    if code < 0:
        return f"the harness was killed by signal {signal.Signals(-code).name}"
    try:
        what = pytest.ExitCode(code).name.lower().replace("_", " ")
    except ValueError:
        what = "crashed"
    return f"the harness ended with exit code {code} ({what})"


def command(submission: Submission, report: Path, html: Path, extra: list[str]) -> list[str]:
    """The arguments of `nn-harness` for one submission; our -n comes before the extra args, so an explicit `-- -n 2`
    wins."""
    return ["--impl", str(submission.impl), "--grade-json", str(report), "--html", str(html), "-n", WORKERS,
            "-p", "no:cacheprovider", *extra]


def verdict(code: int | None, report: Path, timeout: float) -> str:
    """A run counts as graded only when the harness finished (pytest's exit code 0 or 1: checks passed or failed)
    and left a valid results.json; an interrupted run's partial report is not a grade."""
    if code is None:
        return f"not graded: timed out after {timeout:g} s (the whole run was stopped; see log.txt)"
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return f"not graded: {exit_reason(code)}; see log.txt"
    try:
        problem = gradebook.results_problem(json.loads(report.read_text()))
    except OSError:
        problem = "missing"
    except ValueError as error:
        problem = f"not JSON ({error})"
    return f"not graded: results.json {problem} (exit code {code}); see log.txt" if problem else gradebook.GRADED


def grade(submission: Submission, out: Path, extra: list[str], timeout: float, running: Running,
          grader: warm.WarmGrader | None = None) -> Outcome:
    """Grade one submission into out/<name>/: results.json (only when graded), results.partial.json (what an
    unfinished run left), log.txt (the last run's terminal output), report.html (the visual report) and status.json
    (the last run's outcome and why).

    The run writes its report and HTML under temporary names in the same folder, moved over results.json and
    report.html (os.replace, atomic) only once it is graded: a regrade (--force) that crashes, times out or is
    interrupted never leaves a submission without its previous grade, nor with half of a new one."""
    folder = out / submission.name
    folder.mkdir(parents=True, exist_ok=True)
    partial, html = folder / PARTIAL, folder / PARTIAL_HTML
    for stale in (partial, html):
        stale.unlink(missing_ok=True)
    had_grade = gradebook.load_results(folder / gradebook.RESULTS) is not None
    if not had_grade:  # no grade to keep: its row reads "never graded, or still running" until this run ends
        for stale in (gradebook.RESULTS, gradebook.STATUS, HTML):
            (folder / stale).unlink(missing_ok=True)
    start = time.monotonic()
    code = None
    if submission.impl is None:
        status = f"not graded: {submission.problem}"
    else:
        code = run(command(submission, partial, html, extra), folder / "log.txt", timeout, running, grader)
        status = verdict(code, partial, timeout)
    keep(folder, status, had_grade)
    if status != gradebook.GRADED and had_grade:
        status = f"{gradebook.REGRADE_FAILED}: {status.removeprefix('not graded: ')}; {gradebook.KEPT}"
    outcome = Outcome(status, time.monotonic() - start, code)
    write_status(folder / gradebook.STATUS, submission, outcome)
    return outcome


def keep(folder: Path, status: str, had_grade: bool) -> None:
    """Move the run's report and HTML into place when it is graded; else keep the previous grade and its HTML
    (the failed run's partial report stays as results.partial.json for the log's reader). Without a previous
    grade, a failed run's HTML is still worth a look, as report.html."""
    partial, html = folder / PARTIAL, folder / PARTIAL_HTML
    if status == gradebook.GRADED:
        os.replace(partial, folder / gradebook.RESULTS)
    if html.exists():
        if status == gradebook.GRADED or not had_grade:
            os.replace(html, folder / HTML)
        else:
            html.unlink()


def write_status(path: Path, submission: Submission, outcome: Outcome) -> None:
    """status.json, atomically (written last, it must never be half a file the gradebook cannot read)."""
    kind, _, reason = outcome.status.partition(": ")
    data = {"name": submission.name, "impl": str(submission.impl or ""), "status": kind, "reason": reason,
            "exit_code": outcome.exit_code, "seconds": round(outcome.seconds, 1)}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def run(argv: list[str], log: Path, timeout: float, running: Running, grader: warm.WarmGrader | None = None
        ) -> int | None:
    """The exit code of `nn-harness *argv`, forked by the warm `grader` (started cold without one, or when it cannot),
    or None when the run was stopped after `timeout` seconds."""
    with log.open("wb") as out:
        try:
            if grader is None:
                raise OSError("no warm grader")
            process: subprocess.Popen | warm.WarmChild = grader.spawn(argv, log)
        except OSError:
            process = subprocess.Popen([*HARNESS, *argv], stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        running.add(process)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(process)
            return None
        finally:
            running.discard(process)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


class Progress:
    """One line per finished submission on stderr (plain lines read well in Slurm and CI logs too)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.monotonic()

    def finished(self, name: str, outcome: Outcome) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        print(f"[{self.done}/{self.total}] {name}: {outcome.status} ({outcome.seconds:.0f} s); "
              f"elapsed {_clock(elapsed)}, ETA {_clock(eta)}", file=sys.stderr, flush=True)


def grade_all(submissions: list[Submission], out: Path, extra: list[str], *, jobs: int, timeout: float,
              force: bool, cold: bool = False) -> dict[str, Outcome]:
    """Grade those not graded yet (all with `force`), `jobs` at a time, by warm graders (`cold`: each in a fresh
    interpreter); the outcome of each graded now."""
    todo = [s for s in submissions if force or gradebook.load_results(out / s.name / gradebook.RESULTS) is None]
    print(f"grade-all: {len(submissions)} submissions, {len(submissions) - len(todo)} already graded (skipped), "
          f"{len(todo)} to grade, {jobs} at a time", file=sys.stderr, flush=True)
    progress, running, outcomes = Progress(len(todo)), Running(), {}
    graders: queue.SimpleQueue[warm.WarmGrader | None] = queue.SimpleQueue()
    for _ in range(min(jobs, len(todo))):  # one warm grader per job, each running one submission at a time
        graders.put(None if cold else warm.WarmGrader())

    def graded(submission: Submission) -> Outcome:
        grader = graders.get()
        try:
            return grade(submission, out, extra, timeout, running, grader)
        finally:
            graders.put(grader)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(graded, s): s for s in todo}
        try:
            for future in as_completed(futures):
                outcomes[futures[future].name] = outcome = future.result()
                progress.finished(futures[future].name, outcome)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            running.stop_all()
            raise
        finally:
            while not graders.empty():
                grader = graders.get()
                if grader is not None:
                    grader.close()
    return outcomes


# ---------------------------------------------------------------------------------------------------- command line

def _positive(kind: type) -> Callable[[str], float]:
    """An argparse type: a number > 0 of `kind`."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="nn-harness", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    grade_cmd = commands.add_parser("grade-all", help="grade every submission of a folder",
                                    usage="nn-harness grade-all SUBMISSIONS --out RESULTS [options] [-- harness args]")
    grade_cmd.add_argument("submissions", type=Path, help="folder: one .py, .ipynb, package or folder per submission")
    grade_cmd.add_argument("--out", type=Path, required=True, help="results folder: one sub-folder per submission")
    grade_cmd.add_argument("--jobs", type=_positive(int), default=os.cpu_count() or 1,
                           help="submissions graded at once (default: the number of CPUs)")
    grade_cmd.add_argument("--force", action="store_true", help="grade again those already graded")
    grade_cmd.add_argument("--cold", action="store_true", help="grade each submission in a fresh interpreter (default: "
                           "forked from a warm grader per job, which imports the harness once)")
    grade_cmd.add_argument("--shard", type=parse_shard, help="K/N: grade only the K-th of N shards (a hash of the name)")
    grade_cmd.add_argument("--submission-timeout", type=_positive(float), default=600.0,
                           help="seconds before a submission's whole run is stopped (default: 600)")
    book = commands.add_parser("gradebook", help="gradebook.csv, summary.md and scores.png from results folders")
    book.add_argument("results", type=Path, nargs="+", help="results folders of grade-all (e.g. one per shard)")
    book.add_argument("--out", type=Path, required=True, help="where to write the gradebook")
    return top


def main(argv: list[str]) -> int:
    """Exit code 0 when every submission (of the shard) is graded, 1 when some are not (or kept an old grade after a
    failed regrade): the gradebook is written either way, and says why."""
    split = argv.index("--") if "--" in argv else len(argv)
    own, extra = argv[:split], argv[split + 1:]
    args = parser().parse_args(own)
    if args.command == "gradebook":
        if extra:
            parser().error("gradebook takes no harness arguments after --")
        rows = gradebook.write_gradebook(args.results, args.out)
        return incomplete(rows)
    reserved = [arg for arg in extra if arg.split("=")[0] in RESERVED]
    if reserved:
        parser().error(f"grade-all sets {' and '.join(RESERVED)} for each submission; drop {' '.join(reserved)}")
    if not args.submissions.is_dir():
        parser().error(f"{args.submissions} is not a folder")
    submissions = in_shard(discover(args.submissions), args.shard)
    grade_all(submissions, args.out, extra, jobs=args.jobs, timeout=args.submission_timeout, force=args.force,
              cold=args.cold)
    rows = gradebook.write_gradebook([args.out], args.out)
    kept = [row.name for row in rows if row.regrade_failed]
    if kept:
        print(f"grade-all: the regrade of {len(kept)} submission(s) failed, {gradebook.KEPT}: {', '.join(kept)} "
              "(see summary.md)", file=sys.stderr)
    print(f"grade-all: gradebook in {args.out / 'gradebook.csv'}, summary in {args.out / 'summary.md'}",
          file=sys.stderr)
    return incomplete(rows)


def incomplete(rows: list[gradebook.Row]) -> int:
    """1 when a submission is not graded, or its grade is an old one whose regrade failed; else 0."""
    return int(any(row.status != gradebook.GRADED or row.regrade_failed for row in rows))
