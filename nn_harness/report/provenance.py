"""Does the submission grade NumPy skills? Its source must not import a framework that computes gradients for it,
nor the harness's own implementation or reference.

A static scan (ast) of the submission's files (its own folder's, and every file the sandbox loaded): every
`import x` / `from x import y`, at any depth, also inside functions. Imports done through strings
(importlib.import_module("torch"), __import__) are not seen here: the sandbox's memory map catches those
(nn_harness/run/session_sandbox.py), and the grader's own packages are not on its path (docs/grading.md).
"""

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from nn_harness.sandbox import notebook

FORBIDDEN = {
    "torch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX", "keras": "Keras",
    "impl": "the harness's own implementation", "reference": "the harness's torch twins", "nn_harness": "the harness",
}


@dataclass(frozen=True)
class ForbiddenImport:
    file: Path
    line: int
    module: str

    def __str__(self) -> str:
        top = self.module.split(".")[0]
        return f"{self.file}:{self.line}: imports {self.module} ({FORBIDDEN[top]})"


def submission_files(target: str) -> list[Path]:
    """The submission's own source files: a .py file, every .py file of a package folder, or a module's file (a
    notebook has none: its cells are scanned as nn_harness/sandbox/notebook.py takes them)."""
    path = Path(target)
    if path.is_dir():
        return sorted(path.rglob("*.py"))
    if path.suffix in (".py", ".ipynb"):
        return [path] if path.suffix == ".py" and path.is_file() else []
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return []
    origin = Path(spec.origin)
    return sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]


def forbidden_imports(target: str, loaded: list[str] = (), notebook_cells: str | None = None) -> list[ForbiddenImport]:
    """Forbidden imports in the submission's files and in `loaded` (files the sandbox loaded from it). A notebook (or
    a .py read as cells, `notebook_cells` given) is scanned as the sandbox runs it: the statements it takes, named
    by cell (`homework.ipynb, cell 7:3`), so a cell the harness never runs (a comparison with torch) costs nothing."""
    files = set(submission_files(target)) | {Path(f) for f in loaded if f.endswith(".py")}
    mode = notebook.mode_for(target, notebook_cells)
    statements = _taken(Path(target), mode) if mode else []
    files -= {Path(target), Path(target).resolve()} if mode else set()
    # A name the submission defines itself (e.g. its own package called `impl`) is its own code, not ours.
    own = {f.stem for f in files} | {f.parent.name for f in files if f.name == "__init__.py"}
    scanned = [(file, node) for file in files for node in _statements(file)] + \
        [(Path(label), node) for label, node in statements]
    found = [item for file, node in scanned for item in _imports(file, node, own)]
    return sorted(found, key=lambda item: (str(item.file), item.line))


def source_statements(target: str, notebook_cells: str | None = None) -> list[ast.stmt]:
    """The submission's top-level statements, parsed here and never run: its files' in order, then a notebook's as the
    sandbox takes them (what the trusted side reads of the code itself, e.g. which course classes are left as their
    template's skeleton)."""
    mode = notebook.mode_for(target, notebook_cells)
    files = [f for f in submission_files(target) if not (mode and f.resolve() == Path(target).resolve())]
    return [node for file in files for node in _statements(file)] + \
        [node for _, node in (_taken(Path(target), mode) if mode else [])]


def _statements(file: Path) -> list[ast.stmt]:
    try:
        return ast.parse(file.read_text(errors="replace"), filename=str(file)).body
    except (OSError, SyntaxError, ValueError):
        return []  # reported by the import itself


def _taken(path: Path, mode: str) -> list[tuple[str, ast.stmt]]:
    try:
        return notebook.convert(path, mode).statements()
    except (OSError, ValueError):
        return []  # not readable as a notebook: reported by the import itself


def _imports(file: Path, statement: ast.stmt, own: set[str]) -> list[ForbiddenImport]:
    found = []
    for node in ast.walk(statement):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [ForbiddenImport(file, node.lineno, name) for name in names
                  if name.split(".")[0] in FORBIDDEN and name.split(".")[0] not in own]
    return found
