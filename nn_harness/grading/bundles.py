"""`nn-harness gradescope` and `nn-harness classroom`: what a course uploads to grade on Gradescope or GitHub Classroom.

Both carry the harness as an sdist of this checkout with what grading runs (harness/, reference/, the suite in
tests/ without the meta-tests, conftest.py, pyproject.toml) and never impl/, the instructor's solution: nothing the
harness runs imports it. Not a wheel: the harness runs the suite in tests/ beside harness/ with the pytest settings
of pyproject.toml (nn_harness/run/cli.py), which a wheel does not hold, so platforms/install.sh unpacks the sdist and
installs it in editable mode. See docs/classroom.md, "Gradescope" and "GitHub Classroom".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from nn_harness.cases.registry import SPECS
from nn_harness.grading import gradebook

ROOT = Path(__file__).resolve().parents[2]  # the checkout (or install) holding nn_harness/
PLATFORMS = Path(__file__).resolve().parent / "platforms"  # setup.sh, run_autograder, install.sh
SHIPPED = ("pyproject.toml", "README.md", "conftest.py", "nn_harness", "reference", "tests")
NOT_SHIPPED = (ROOT / "tests" / "meta",)  # the harness's own tests: mutants of impl/, hostile submissions
MANIFEST = "graft harness\ngraft reference\ngraft tests\ninclude conftest.py\nglobal-exclude *.py[cod]\n"
ASSIGNMENT = "assignment.toml"  # its name in both bundles, where run_autograder and the workflow look for it
CARRIED = ("api", "weights", "mnist_dir")  # [assignment] options that name a file or folder grading reads
PYTHON = "3.11"
END_TO_END = " end to end"  # the end-to-end models' layer names: "MLP end to end", "CNN end to end"
# GitHub Classroom's actions (github.com/classroom-resources): one step per graded command, then the reporter that
# sends the points to Classroom.
COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
CLASSROOM_FILES = Path(".github") / "classroom"  # install.sh and the sdist, in the template repository
# Plain YAML words that would not read back as the string they are (YAML 1.1 booleans and null).
YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


# ---------------------------------------------------------------------------------------------------- the harness

def _left_out(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if name == "__pycache__" or name.endswith((".pyc", ".pyo"))
            or Path(folder, name) in NOT_SHIPPED]


def build_sdist(into: Path) -> Path:
    """The harness as an sdist in `into`, built from a staged copy of only what grading needs: nothing else of the
    checkout (impl/, the meta-tests, examples/, .git) can end up in a bundle, whatever pyproject.toml packages."""
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp)
        for name in SHIPPED:
            source = ROOT / name
            if not source.exists():
                raise SystemExit(f"nn-harness: building a bundle needs a checkout of nn-harness; {source} is missing")
            if source.is_dir():
                shutil.copytree(source, stage / name, ignore=_left_out)
            else:
                shutil.copy(source, stage / name)
        (stage / "MANIFEST.in").write_text(MANIFEST)
        script = f"from setuptools import build_meta; print(build_meta.build_sdist({str(into)!r}))"
        built = subprocess.run([sys.executable, "-c", script], cwd=stage, capture_output=True, text=True)
        if built.returncode:
            raise SystemExit(f"nn-harness: building the harness's sdist failed:\n{built.stderr[-3000:]}")
        return into / built.stdout.split()[-1]


def torch_requirement() -> str:
    """The torch pin of pyproject.toml, which install.sh installs from PyTorch's CPU index before the harness."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(dep for dep in dependencies if re.match(r"torch\b", dep))


def install_script(sdist: Path) -> str:
    return (PLATFORMS / "install.sh").read_text().replace("@TORCH@", torch_requirement()).replace("@SDIST@", sdist.name)


# ---------------------------------------------------------------------------------------------------- the assignment

def layer_points(assignment: Path) -> dict[str, float]:
    """Each layer the assignment grades, with its points, counted by the harness itself: a run that only collects
    the checks (--collect-only) still writes each of them with its max_score to results.json, so the totals follow
    the assignment's layers, points and profile without a second implementation of them. The NN_* variables of
    the caller's shell are left out, as Gradescope's and GitHub's runners do not have them."""
    with tempfile.TemporaryDirectory() as tmp:
        placeholder, report = Path(tmp) / "placeholder.py", Path(tmp) / "results.json"
        placeholder.write_text("")
        command = [sys.executable, "-m", "nn_harness", "--assignment", str(assignment.resolve()), "--impl", str(placeholder),
                   "--collect-only", "--grade-json", str(report), "-n", "0", "-p", "no:cacheprovider"]
        env = {name: value for name, value in os.environ.items() if not name.startswith("NN_")}
        run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp, stdin=subprocess.DEVNULL)
        results = gradebook.load_results(report)
    if results is None:
        output = "\n".join((run.stdout + run.stderr).splitlines()[-20:])
        raise SystemExit(f"nn-harness: {assignment}: the harness could not collect its checks:\n{output}")
    points: dict[str, float] = {}
    for test in results["tests"]:
        layer = gradebook.layer_of(test["name"])
        points[layer] = points.get(layer, 0.0) + test["max_score"]
    return points


def carried_files(assignment: Path) -> dict[str, Path]:
    """The assignment (as ASSIGNMENT) and the files it names (a course profile, a weights table, MNIST files), by
    their path in a bundle: beside the copy of the assignment, where its relative paths still find them. A file
    outside the assignment's folder cannot be placed so, and is refused."""
    files = {ASSIGNMENT: assignment}
    head = tomllib.loads(assignment.read_text()).get("assignment", {})
    for key in CARRIED:
        value = head.get(key)
        if not isinstance(value, str) or key == "api" and not value.endswith(".toml"):
            continue  # a shipped profile's name, or not given
        if Path(value).is_absolute() or ".." in Path(value).parts:
            raise SystemExit(f"nn-harness: {assignment}: [assignment] {key} = {value!r}: a bundle carries only what is "
                             "inside the assignment's folder; give a path relative to it")
        source = assignment.parent / value
        members = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        files.update({member.relative_to(assignment.parent).as_posix(): member for member in members})
    return files


def _summary(points: dict[str, float]) -> str:
    listed = ", ".join(f"{layer} {value:g}" for layer, value in points.items())
    return f"{len(points)} layers, {sum(points.values()):g} points ({listed})"


# ---------------------------------------------------------------------------------------------------- Gradescope

def _add(bundle: zipfile.ZipFile, name: str, data: bytes, *, executable: bool) -> None:
    """A member with its Unix mode (Gradescope runs setup.sh and run_autograder as they are) and a fixed date,
    so the same checkout and assignment give the same zip."""
    member = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    member.external_attr = (0o100755 if executable else 0o100644) << 16
    member.compress_type = zipfile.ZIP_DEFLATED
    bundle.writestr(member, data)


def write_gradescope(assignment: Path, out: Path) -> dict[str, float]:
    """Gradescope's autograder zip: setup.sh, run_autograder, install.sh and the sdist, and the assignment with the
    files it names, at its root (Gradescope unpacks it into /autograder/source). The points per layer it grades are returned."""
    points = layer_points(assignment)
    with tempfile.TemporaryDirectory() as tmp:
        sdist = build_sdist(Path(tmp))
        with zipfile.ZipFile(out, "w") as bundle:
            for script in ("setup.sh", "run_autograder"):
                _add(bundle, script, (PLATFORMS / script).read_bytes(), executable=True)
            _add(bundle, "install.sh", install_script(sdist).encode(), executable=True)
            _add(bundle, sdist.name, sdist.read_bytes(), executable=False)
            for name, source in carried_files(assignment).items():
                _add(bundle, name, source.read_bytes(), executable=False)
    return points


# ---------------------------------------------------------------------------------------------------- GitHub Classroom

def selection(layer: str) -> list[str]:
    """The pytest options that select one layer's checks: its marker (nn_harness/run/verdicts.py); the end-to-end models
    share the end_to_end marker and are told apart by their test ids (mlp, cnn); the checks of the submission as
    a whole ("Submission: uses NumPy only") carry the graded marker."""
    if layer.endswith(END_TO_END):
        return ["-m", "end_to_end", "-k", layer.removesuffix(END_TO_END).lower()]
    return ["-m", layer if layer in SPECS else "graded"]


def grading_command(layer: str, submission: str) -> str:
    """One layer's command; its exit code is the verdict (pytest's 0 only when every selected check passed)."""
    return shlex.join(["nn-harness", "--assignment", ASSIGNMENT, "--impl", submission, *selection(layer), "-n", "0"])


def step_id(layer: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", layer.lower()).strip("-")


def whole_points(points: dict[str, float], assignment: Path) -> dict[str, int]:
    """The command grader reads max-score as an integer (parseInt), so a fractional layer would lose points; a layer
    worth nothing under the assignment (its profile grades none of its checks) gets no step."""
    fractional = [f"{layer} ({value:g})" for layer, value in points.items() if value != int(value)]
    if fractional:
        raise SystemExit(f"nn-harness classroom: {assignment}: GitHub Classroom scores whole points only; these layers "
                         f"are worth a fraction: {', '.join(fractional)}. Scale the assignment's points.")
    return {layer: int(value) for layer, value in points.items() if value}


def workflow(points: dict[str, int], submission: str, timeout_minutes: int) -> dict[str, Any]:
    """.github/workflows/classroom.yml as GitHub Classroom writes it for its own tests: one command-grader step per
    layer, then the reporter, which reads each step's result from <ID>_RESULTS and the list of step ids."""
    ids = {layer: step_id(layer) for layer in points}
    steps: list[dict[str, Any]] = [
        {"name": "Checkout code", "uses": "actions/checkout@v4"},
        {"name": "Set up Python", "uses": "actions/setup-python@v5", "with": {"python-version": PYTHON}},
        {"name": "Install nn-harness", "run": f"bash {CLASSROOM_FILES / 'install.sh'} python"},
    ]
    steps += [{"name": layer, "id": ids[layer], "uses": COMMAND_GRADER,
               "with": {"test-name": layer, "setup-command": "", "command": grading_command(layer, submission),
                        "timeout": timeout_minutes, "max-score": value}} for layer, value in points.items()]
    steps.append({"name": "Autograding Reporter", "uses": REPORTER,
                  "env": {f"{ids[layer].upper()}_RESULTS": f"${{{{steps.{ids[layer]}.outputs.result}}}}" for layer in ids},
                  "with": {"runners": ",".join(ids.values())}})
    return {"name": "Autograding Tests", "on": ["push", "workflow_dispatch", "repository_dispatch"],
            "permissions": {"checks": "write", "actions": "read", "contents": "read"},
            "jobs": {"run-autograding-tests": {"runs-on": "ubuntu-latest",
                                               "if": "github.actor != 'github-classroom[bot]'", "steps": steps}}}


def _scalar(value: Any) -> str:
    """A YAML scalar: plain when it reads back as itself, else double-quoted (a JSON string is valid YAML)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return format(value, "g")
    if re.fullmatch(r"[A-Za-z_][\w./@ -]*", value) and not value.endswith(" ") and value.lower() not in YAML_WORDS:
        return value
    return json.dumps(value)


def to_yaml(value: dict[str, Any] | list[Any], indent: int = 0) -> list[str]:
    """Block-style YAML of nested dicts, lists and scalars, enough for a workflow; PyYAML is not a dependency."""
    pad = " " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                lines += [f"{pad}{_scalar(key)}:", *to_yaml(item, indent + 2)]
            elif isinstance(item, str) and "\n" in item:
                lines += [f"{pad}{_scalar(key)}: |", *(f"{pad}  {line}" for line in item.splitlines())]
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(item)}")
        return lines
    for item in value:
        inner = to_yaml(item, indent + 2) if isinstance(item, dict | list) else [f"{pad}  {_scalar(item)}"]
        lines += [f"{pad}- {inner[0].lstrip()}", *inner[1:]]
    return lines


def write_classroom(assignment: Path, out: Path, submission: str, timeout_minutes: int) -> dict[str, int]:
    """The files of GitHub Classroom's template repository: the workflow, the assignment with the files it names,
    and the harness's install.sh and sdist under .github/classroom/. The points per graded layer are returned."""
    points = whole_points(layer_points(assignment), assignment)
    files = out / CLASSROOM_FILES
    files.mkdir(parents=True, exist_ok=True)
    sdist = build_sdist(files)
    (files / "install.sh").write_text(install_script(sdist))
    (files / "install.sh").chmod(0o755)
    header = f"# Written by `nn-harness classroom`: one graded step per layer of {ASSIGNMENT} (docs/classroom.md).\n"
    (out / ".github" / "workflows").mkdir(parents=True, exist_ok=True)
    (out / ".github" / "workflows" / "classroom.yml").write_text(
        header + "\n".join(to_yaml(workflow(points, submission, timeout_minutes))) + "\n")
    for name, source in carried_files(assignment).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, out / name)
    return points


# ---------------------------------------------------------------------------------------------------- command line

def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nn-harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    platforms = parser.add_subparsers(dest="platform", required=True)
    gradescope = platforms.add_parser("gradescope", help="write Gradescope's autograder zip")
    classroom = platforms.add_parser("classroom", help="write GitHub Classroom's autograding workflow")
    for sub in (gradescope, classroom):
        sub.add_argument("--assignment", type=Path, default=os.environ.get("NN_ASSIGNMENT"),
                         help="the assignment file (TOML) to grade under (default: NN_ASSIGNMENT)")
    gradescope.add_argument("-o", "--out", type=Path, default=Path("autograder.zip"),
                            help="the zip to write (default: autograder.zip)")
    classroom.add_argument("-o", "--out", type=Path, required=True, help="the template repository's folder")
    classroom.add_argument("--submission", default="layers.py",
                           help="the student's file, notebook or package, from the root of their repository "
                                "(default: layers.py)")
    classroom.add_argument("--timeout-minutes", type=int, default=10, help="time limit of each layer's step (default: 10)")
    return parser


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.assignment is None:
        raise SystemExit(f"nn-harness {args.platform}: give --assignment FILE (or NN_ASSIGNMENT)")
    if not args.assignment.is_file():
        raise SystemExit(f"nn-harness {args.platform}: --assignment {args.assignment}: no such file")
    if args.platform == "gradescope":
        points = write_gradescope(args.assignment, args.out)
        print(f"{args.out}: grades {_summary(points)}; upload it as the autograder of a programming assignment")
    else:
        points = write_classroom(args.assignment, args.out, args.submission, args.timeout_minutes)
        print(f"{args.out}: grades {_summary(points)}; commit it to the assignment's template repository")
    return 0
