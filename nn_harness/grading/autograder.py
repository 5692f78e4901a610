"""What Gradescope's run_autograder runs (`python -m nn_harness.grading.autograder ROOT`): find the submission, grade it under
the bundled assignment, and leave a valid results.json whatever happens.

A student whose upload is missing, ambiguous or breaks the harness itself must still see a score (0) and why, not
Gradescope's bare "the autograder failed to execute correctly"; so every path ends in a results.json. The
submission itself only ever runs inside the harness's sandbox (docs/grading.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nn_harness.grading import grade_all, gradebook

DEFAULT_ROOT = "/autograder"
ASSIGNMENT = "assignment.toml"  # in ROOT/source, where Gradescope unpacks the autograder zip
LOG_TAIL = 30  # lines of the harness's output shown to the student when it could not grade
NOT_YOUR_FAULT = "This is not your submission's fault: please tell your instructor."


def find_submission(folder: Path) -> tuple[Path | None, str]:
    """What to grade in Gradescope's submission folder, as grade-all decides it for a class folder's entry
    (nn_harness/grading/grade_all.py: a .py file, a notebook or a package, a folder of modules, or what the one
    folder of code in it holds, as an upload zipped with its folder)."""
    if not folder.is_dir():
        return None, "there is no submission folder"
    return grade_all.resolve(folder)


def zero(why: str) -> dict:
    """A results.json for a submission that was not graded: score 0, the reason shown to the student."""
    return {"score": 0.0, "output": f"Not graded: {why}", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": []}


def write(results: Path, data: dict) -> None:
    """Atomically, as the harness writes its own report: Gradescope never reads half a file."""
    partial = results.with_suffix(".tmp")
    partial.write_text(json.dumps(data, indent=2))
    os.replace(partial, results)


def grade(root: Path, results: Path) -> str | None:
    """Grade the submission into `results`; None when the harness left a valid results.json, else why not."""
    impl, problem = find_submission(root / "submission")
    if impl is None:
        return (f"nothing to grade in your submission: {problem}. Submit one .py file, one .ipynb notebook or one "
                "package folder (other files are ignored).")
    command = [sys.executable, "-m", "nn_harness", "--assignment", str(root / "source" / ASSIGNMENT),
               "--impl", str(impl), "--grade-json", str(results)]
    run = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                         stdin=subprocess.DEVNULL)
    print(run.stdout, flush=True)  # Gradescope keeps run_autograder's stdout for the instructor
    if gradebook.load_results(results) is not None:
        return None
    tail = "\n".join(run.stdout.splitlines()[-LOG_TAIL:])
    return f"the grader could not grade {impl.name}: {grade_all.exit_reason(run.returncode)}. {NOT_YOUR_FAULT}\n\n{tail}"


def main(argv: list[str] | None = None) -> int:
    """Always 0 and always a results.json: the grade, or score 0 with the reason."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else os.environ.get("AUTOGRADER_ROOT", DEFAULT_ROOT))
    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    try:
        why = grade(root, results)
    except Exception as error:  # a bug of ours must still leave the student a results.json
        why = f"the autograder crashed ({type(error).__name__}: {error}). {NOT_YOUR_FAULT}"
    if why:
        print(why, flush=True)
        write(results, zero(why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
