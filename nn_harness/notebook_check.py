"""nn-harness from Python, e.g. in a Jupyter notebook: check your layers, see the visual report inline.

    import nn_harness
    result = nn_harness.check("homework.ipynb", layers=["Linear", "ReLU"])
    result            # in a notebook: the visual report (verdict, failures, heat maps of mismatched arrays)
    print(result)     # the verdict per layer, as the terminal shows it
    result.passed, result.score, result.max_score

The suite runs in a subprocess (`python -m nn_harness`), so the notebook's kernel never imports the graded code twice,
and the submission runs in the harness's sandbox as in any other run.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

__all__ = ["Result", "check"]

GRADED = (0, 1)  # the harness's exit codes for a finished run: all passed, some failed (docs/grading.md)


@dataclass(frozen=True)
class Result:
    """One run of the suite: the visual report, results.json, and the terminal's verdict per layer."""

    html: str = field(repr=False)
    results: dict = field(repr=False)
    exit_code: int

    @property
    def table(self) -> str:
        """The verdict per layer, line by line as the terminal shows it (the page's copy of it)."""
        found = re.search(r'<pre class="verdict">(.*?)</pre>', self.html, re.DOTALL)
        return html.unescape(re.sub(r"<[^>]+>", "", found[1])) if found else ""

    @property
    def passed(self) -> bool:
        """Every graded check passed (a check the course profile does not grade has no status)."""
        return all(test["status"] == "passed" for test in self.results["tests"] if "status" in test)

    @property
    def score(self) -> float:
        return float(self.results["score"])

    @property
    def max_score(self) -> float:
        return float(self.results["max_score"])

    def __str__(self) -> str:
        return self.table

    def __repr__(self) -> str:
        return self.table

    def _repr_html_(self) -> str:
        return self.html


def _target(module_or_path: str | os.PathLike | ModuleType) -> str:
    """What --impl gets: an absolute path (the subprocess may not share the caller's working directory or path)."""
    if isinstance(module_or_path, ModuleType):
        file = getattr(module_or_path, "__file__", None)
        if not file:
            raise TypeError(f"module {module_or_path.__name__!r} has no file (a notebook's own namespace?): pass the "
                            "path of the .py file or notebook that defines the layers, e.g. check('homework.ipynb')")
        path = Path(file)
        path = path.parent if path.name == "__init__.py" else path  # a package is graded as its folder
    else:
        path = Path(module_or_path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return str(path.resolve())


def _marker(layers: Iterable[str]) -> str:
    """`-m` selecting the layers' checks; each name must be a marker (a registry name, e.g. "Linear")."""
    names = [layers] if isinstance(layers, str) else list(layers)
    bad = [name for name in names if not (isinstance(name, str) and name.isidentifier())]
    if bad or not names:
        raise ValueError(f"layers: expected names as in the registry, e.g. ['Linear', 'ReLU'], got {layers!r}")
    return " or ".join(names)


def check(module_or_path: str | os.PathLike | ModuleType, layers: Iterable[str] | None = None, *,
          args: Sequence[str] = (), timeout: float | None = None) -> Result:
    """Run the suite on a submission (a .py file, a notebook, a package folder, or an imported module: its file)
    for `layers` (registry names; None: every layer), in a subprocess. `args`: more harness options, e.g.
    ["--profile", "dev"] or ["--api", "cs231n"]. RuntimeError when the harness could not grade (its reason)."""
    with tempfile.TemporaryDirectory(prefix="nn-harness-check-") as folder:
        page, grade = Path(folder, "report.html"), Path(folder, "results.json")
        argv = [sys.executable, "-m", "nn_harness", "--impl", _target(module_or_path), "-n", "0", "--html", str(page),
                "--grade-json", str(grade),
                *(["-m", _marker(layers)] if layers is not None else []), *args]
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        if done.returncode not in GRADED or not page.exists() or not grade.exists():
            reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            raise RuntimeError(f"nn-harness could not grade {module_or_path!r}: {reason}")
        return Result(page.read_text(encoding="utf-8"), json.loads(grade.read_text()), done.returncode)
