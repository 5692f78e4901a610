"""Run a notebook's cells in the sandbox, statement by statement (nn_harness/sandbox/notebook.py wrote the module that calls
`run`): a statement that fails (an unfinished line, `import skimage` of a package the sandbox lacks, a name not
defined yet) is skipped and recorded, and costs only what it defines; the rest of the notebook is graded.

Each statement is compiled with the name the student knows (`.../homework.ipynb, cell 7` with the cell's own line
numbers, or the exported `.py` with its own), and a notebook's cells are put in `linecache`, so a traceback in a
check failure shows the student's line.
"""

import __future__

import ast
import linecache
import os
import traceback
from typing import Any

# (cell number, first line, file label, source, indices of the statements to run or None for all)
Chunk = tuple[int, int, str, str, list[int] | None]
# (cell number, line, "SyntaxError: ...", names it seems to define): what the trusted side could not parse
Unparsed = tuple[int, int, str, list[str]]


class _Failure:
    def __init__(self, cell: int, node: ast.stmt, path: str, error: BaseException) -> None:
        self.cell, self.node, self.path = cell, node, path
        self.line = _line_of(error, path, node.lineno)
        self.text = _text(error)
        self.retry = isinstance(error, NameError)  # the signature of cells run out of order

    def where(self) -> str:
        return f"cell {self.cell}, line {self.line}: {self.text}"


def run(namespace: dict[str, Any], module_file: str, mode: str, chunks: list[Chunk], unparsed: list[Unparsed],
        texts: dict[str, str]) -> tuple[list[list], dict[str, str]]:
    """Execute the chunks' statements into `namespace`; (the skipped statements as [cell, line, error], and
    {name: why it is missing} for the names a skipped statement would have defined).

    In `definitions` mode a statement that failed with NameError is run again after the others, until no more
    succeed: students run cells out of order, so a class may use a base class defined in a later cell. In `all`
    mode every statement runs once, in order (running a training loop twice is not what anybody asked for)."""
    folder = os.path.dirname(os.path.abspath(module_file))
    for label, text in texts.items():
        path = os.path.join(folder, label)
        linecache.cache[path] = (len(text), None, text.splitlines(True), path)
    runner = _Runner(namespace)
    failures = []
    for cell, first, label, source, kept in chunks:
        path = os.path.join(folder, label)
        for node in _statements(source, first, kept):
            failure = runner.execute(cell, node, path)
            failures += [failure] if failure else []
    if mode == "definitions":
        failures = runner.retry(failures)
    skipped = [[f.cell, f.line, f.text] for f in failures]
    missing = {name: f.where() for f in failures for name in _defined(f.node)}
    missing.update({name: f"cell {cell}, line {line}: {text}" for cell, line, text, names in unparsed for name in names})
    return skipped, missing


class _Runner:
    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.flags = 0  # `from __future__ import annotations` in a cell applies to the statements after it

    def execute(self, cell: int, node: ast.stmt, path: str) -> _Failure | None:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                self.flags |= getattr(getattr(__future__, alias.name, None), "compiler_flag", 0)
        try:
            code = compile(ast.Module(body=[node], type_ignores=[]), path, "exec", flags=self.flags, dont_inherit=True)
            exec(code, self.namespace)
        except BaseException as error:  # noqa: BLE001 - whatever a cell raises (SystemExit too) skips that statement
            return _Failure(cell, node, path, error)
        return None

    def retry(self, failures: list[_Failure]) -> list[_Failure]:
        progress = True
        while progress:
            progress, left = False, []
            for failure in failures:
                again = self.execute(failure.cell, failure.node, failure.path) if failure.retry else failure
                progress |= again is None
                left += [again] if again else []
            failures = left
        return failures


def _statements(source: str, first: int, kept: list[int] | None) -> list[ast.stmt]:
    tree = ast.parse(source)
    ast.increment_lineno(tree, first - 1)
    return tree.body if kept is None else [tree.body[i] for i in kept if i < len(tree.body)]


def _line_of(error: BaseException, path: str, default: int) -> int:
    """The line of the statement's own code where it failed (not a line deep inside NumPy)."""
    if isinstance(error, SyntaxError) and error.filename == path and error.lineno:
        return error.lineno
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == path]
    return lines[-1] if lines and lines[-1] else default


def _text(error: BaseException) -> str:
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0][:200]}" if message else type(error).__name__


def _defined(node: ast.stmt) -> list[str]:
    """The names a top-level statement binds (what is missing when it was skipped)."""
    if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        return [node.name]
    if isinstance(node, ast.Import | ast.ImportFrom):
        return [alias.asname or alias.name.split(".")[0] for alias in node.names]
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
