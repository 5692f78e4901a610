"""The class's gradebook: one row per submission from the folders `grade-all` writes, and a summary for the instructor.

A results folder holds one sub-folder per submission: `results.json` (Gradescope's format, present and valid only
when the submission was graded) and `status.json` (the last run's outcome: why it was not graded, or why a regrade
failed while the previous grade was kept). Everything here is
computed from those files alone, so the gradebook of several shards' folders merged is the gradebook of one
unsharded run.
"""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = "results.json"
STATUS = "status.json"
BEYOND = "beyond the course"  # a results.json tag (nn_harness/grading/points.py)
GRADED = "graded"
REGRADE_FAILED = "regrade failed"  # status.json's status when a regrade was not graded (results.json is the old one)
KEPT = "the previous grade was kept"
# A check is flagged when it fails for this share of the graded submissions that ran it, and for at least
# FLAG_MIN of them: the same failure across a whole class is more likely a wrong --api, -m or weights table.
FLAG_SHARE, FLAG_MIN = 0.9, 3
TOP_FAILURES = 20
# A number standing alone (not part of a name such as float32): masked in failure reasons, so the same mistake on
# differently shrunk inputs counts as one failure.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])")


@dataclass(frozen=True)
class Row:
    name: str
    status: str  # "graded" or "not graded: <why>"
    results: dict[str, Any] | None  # the submission's results.json when graded
    regrade_failed: str = ""  # why the last regrade failed, when `results` is the grade from before it

    @property
    def graded_checks(self) -> list[dict[str, Any]]:
        """The checks that count (a check the course profile does not grade has no status; one beyond the course
        is worth nothing and is not a finding about the class)."""
        return [test for test in (self.results or {}).get("tests", []) if "status" in test
                and BEYOND not in test.get("tags", ())]


# ---------------------------------------------------------------------------------------------------- reading

def results_problem(data: Any) -> str | None:
    """Why `data` is not a usable results.json (None when it is): the gradebook relies on these fields."""
    if not isinstance(data, dict):
        return "not a JSON object"
    for key in ("score", "max_score"):
        if not _is_number(data.get(key)):
            return f"no numeric {key!r}"
    tests = data.get("tests")
    if not isinstance(tests, list):
        return "no list of 'tests'"
    for test in tests:
        if not (isinstance(test, dict) and isinstance(test.get("name"), str) and _is_number(test.get("score"))
                and _is_number(test.get("max_score"))):
            return f"a test without name, score and max_score: {str(test)[:80]}"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_results(path: Path) -> dict[str, Any] | None:
    """The results.json at `path`, or None when it is missing or unusable (then the submission is not graded)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return None if results_problem(data) else data


def read_status(folder: Path) -> dict[str, Any]:
    """The folder's status.json ({} when missing or unreadable)."""
    try:
        data = json.loads((folder / STATUS).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_row(folder: Path) -> Row:
    results, status = load_results(folder / RESULTS), read_status(folder)
    reason = status.get("reason")
    if results is not None:
        failed = status.get("status") == REGRADE_FAILED and isinstance(reason, str)
        return Row(folder.name, GRADED, results, reason if failed else "")
    if not isinstance(reason, str):
        reason = f"no valid {RESULTS} and no {STATUS} (never graded, or still running)"
    return Row(folder.name, f"not graded: {reason}", None)


def collect(results_dirs: list[Path]) -> list[Row]:
    """One row per submission folder found in any of `results_dirs`, by name. A name in two folders (a shard
    re-run elsewhere) keeps its graded row; two graded rows of one name are an error, as neither is the truth."""
    rows: dict[str, tuple[Row, Path]] = {}
    for results_dir in results_dirs:
        if not results_dir.is_dir():
            raise SystemExit(f"gradebook: {results_dir} is not a folder")
        for folder in sorted(p for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
            row = read_row(folder)
            seen = rows.get(row.name)
            if seen and seen[0].status == GRADED and row.status == GRADED:
                raise SystemExit(f"gradebook: {row.name} is graded in both {seen[1]} and {results_dir}; keep one")
            if not seen or row.status == GRADED:
                rows[row.name] = (row, results_dir)
    return [rows[name][0] for name in sorted(rows)]


# ---------------------------------------------------------------------------------------------------- analysis

def layer_of(check_name: str) -> str:
    """The layer of a check: its name is "<layer>: <check>" (e.g. "Linear: backward matches torch",
    "MLP end to end: ...", "Submission: uses NumPy only")."""
    return check_name.split(": ", 1)[0]


def failure_reason(test: dict[str, Any]) -> str:
    """The first line of a failed check's hint, else of its failure reason (numbers masked as #): what the
    student got wrong, without the input it was shown on. The output starts with the check's name and an
    "on: <layer and input>" line, which say nothing of the mistake."""
    lines = [line.strip() for line in str(test.get("output", "")).splitlines()]
    lines = [line for line in lines if line and line != test["name"] and not line.startswith("on: ")]
    hint = next((line for line in lines if line.startswith("hint: ")), None)
    if hint:
        return hint
    return NUMBER.sub("#", lines[0]) if lines else "(no message)"


def layers(rows: list[Row]) -> list[str]:
    """Every layer any graded submission was checked on, in the order the harness reports them."""
    return list(dict.fromkeys(layer_of(t["name"]) for row in rows for t in (row.results or {}).get("tests", [])))


def layer_points(row: Row, layer: str) -> float:
    return sum(t["score"] for t in (row.results or {}).get("tests", []) if layer_of(t["name"]) == layer)


EVERY_CHECK = "(every check)"


def row_failures(row: Row) -> set[tuple[str, str]]:
    """A submission's (check, reason) failures; one failing every check the same way (it could not be imported,
    its import hung) is one failure of EVERY_CHECK, not a line per check crowding out the class's real mistakes."""
    checks = row.graded_checks
    failed = {(t["name"], failure_reason(t)) for t in checks if t["status"] != "passed"}
    reasons = {reason for _, reason in failed}
    if len(failed) == len(checks) > 1 and len(reasons) == 1:
        return {(EVERY_CHECK, reasons.pop())}
    return failed


def failures(rows: list[Row]) -> Counter[tuple[str, str]]:
    """(check, reason) -> how many graded submissions failed that check that way."""
    return Counter(failure for row in rows for failure in sorted(row_failures(row)))


def flagged(rows: list[Row]) -> list[tuple[str, int, int, str]]:
    """(check, failed, ran, most common reason) for the checks failing for (nearly) every graded submission that
    ran them."""
    ran = Counter(t["name"] for row in rows for t in row.graded_checks)
    reasons: dict[str, Counter[str]] = {}
    for t in (t for row in rows for t in row.graded_checks if t["status"] != "passed"):
        reasons.setdefault(t["name"], Counter())[failure_reason(t)] += 1
    failed = {name: counts.total() for name, counts in reasons.items()}
    return [(name, failed[name], ran[name], reasons[name].most_common(1)[0][0]) for name in ran
            if failed.get(name, 0) >= FLAG_MIN and failed[name] >= FLAG_SHARE * ran[name]]


def pass_rates(rows: list[Row]) -> list[tuple[str, int, int, int, int]]:
    """Per layer: (layer, submissions passing all its checks, submissions checked, checks passed, checks run)."""
    out = []
    for layer in layers(rows):
        per_row = [[t["status"] == "passed" for t in row.graded_checks if layer_of(t["name"]) == layer] for row in rows]
        per_row = [passed for passed in per_row if passed]
        if per_row:  # a layer the course profile grades no check of has no pass rate
            out.append((layer, sum(all(p) for p in per_row), len(per_row), sum(map(sum, per_row)), sum(map(len, per_row))))
    return out


def percent_scores(rows: list[Row]) -> list[float]:
    return [100 * row.results["score"] / row.results["max_score"] if row.results["max_score"] else 0.0
            for row in rows if row.results]


# ---------------------------------------------------------------------------------------------------- writing

def write_csv(rows: list[Row], path: Path) -> None:
    """name, status, score, max_score, then the points earned per layer (empty when not graded)."""
    names = layers(rows)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "status", "score", "max_score", *names])
        for row in rows:
            if row.results is None:
                writer.writerow([row.name, row.status, "", "", *[""] * len(names)])
            else:
                writer.writerow([row.name, row.status, f"{row.results['score']:g}", f"{row.results['max_score']:g}",
                                 *[f"{layer_points(row, layer):g}" for layer in names]])


def write_plot(rows: list[Row], path: Path) -> None:
    """A histogram of the scores (percent of each submission's maximum). Figure without pyplot: no global
    backend to set, so it works headless and inside another program's matplotlib session."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5), layout="constrained")
    axes = figure.subplots()
    axes.hist(percent_scores(rows), bins=[i * 5 for i in range(21)], color="tab:blue", edgecolor="white")
    axes.set(xlabel="score (% of the maximum)", ylabel="submissions", xlim=(0, 100),
             title=f"score distribution ({len(percent_scores(rows))} graded submissions)")
    figure.savefig(path, dpi=100, metadata={"Software": None})


def _cell(text: str, width: int = 200) -> str:
    text = text if len(text) <= width else text[: width - 3] + "..."
    return text.replace("|", "\\|")


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}% ({part} / {whole})" if whole else "-"


def _flag_section(rows: list[Row]) -> list[str]:
    checks = flagged(rows)
    if not checks:
        return []
    lines = [f"> **{len(checks)} check(s) fail for (nearly) every graded submission: more likely the grading "
             "configuration than the class.** Look at the options (`--api`, `-m`, `--weights`, time limits) and the "
             "reference before reading these as the class's mistakes.", "",
             "| check | failed | most common reason |", "|---|---|---|"]
    for name, failed, ran, reason in checks:
        lines.append(f"| {_cell(name)} | {_percent(failed, ran)} | {_cell(reason)} |")
    return [*lines, ""]


def _score_line(rows: list[Row]) -> str:
    graded = [row for row in rows if row.results]
    scores = percent_scores(rows)
    head = f"{len(rows)} submissions: {len(graded)} graded, {len(rows) - len(graded)} not graded."
    if not scores:
        return head
    return (f"{head} Scores (% of the maximum): mean {statistics.mean(scores):.1f}, median "
            f"{statistics.median(scores):.1f}, min {min(scores):.1f}, max {max(scores):.1f}.")


def summary_markdown(rows: list[Row]) -> str:
    graded = [row for row in rows if row.results]
    lines = ["# Gradebook summary", "", *_flag_section(graded), _score_line(rows), "",
             "![score distribution](scores.png)", ""]
    not_graded = [row for row in rows if row.results is None]
    if not_graded:
        lines += ["## Not graded", "", *[f"- {row.name}: {row.status.removeprefix('not graded: ')}" for row in not_graded], ""]
    regraded = [row for row in rows if row.regrade_failed]
    if regraded:  # graded, but not by the last run: the teacher must know which grades are the old ones
        lines += ["## Regrade failed (previous grade kept)", "",
                  *[f"- {row.name}: {row.regrade_failed}" for row in regraded], ""]
    lines += ["## Pass rate per layer", "", "| layer | submissions passing every check | checks passed |", "|---|---|---|"]
    lines += [f"| {layer} | {_percent(full, checked)} | {_percent(passed, ran)} |"
              for layer, full, checked, passed, ran in pass_rates(graded)]
    lines += ["", "## Most common failures", "", "| submissions | check | first line of the hint or failure reason |",
              "|---|---|---|"]
    common = failures(graded).most_common(TOP_FAILURES)
    lines += [f"| {count} | {_cell(check)} | {_cell(reason)} |" for (check, reason), count in common]
    return "\n".join(lines) + "\n"


def write_gradebook(results_dirs: list[Path], out: Path) -> list[Row]:
    """gradebook.csv, summary.md and scores.png in `out`, from the submission folders of `results_dirs`."""
    rows = collect(results_dirs)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "gradebook.csv")
    (out / "summary.md").write_text(summary_markdown(rows))
    write_plot(rows, out / "scores.png")
    return rows
