"""The loader of a reproduction script (nn_harness/report/repro.py) whose submission is a notebook (`--impl
homework.ipynb`, or an exported `.py` with `--notebook-cells`): it runs the statements the grader ran, in the same
order, with the grader's own cell runner, and nothing else of the notebook.

What the grader ran is the trusted side's conversion (nn_harness/sandbox/notebook.py, `Sandbox.converted`), written
into the script as data. The runner is nn_harness/sandbox/cells.py, from the copy of the harness's sandbox side
beside the scripts (repro.SUPPORT). The script looks for the notebook at its original path, then next to itself:
  - unchanged since grading (same SHA-256): its cells run as graded;
  - a graded cell edited so that the grader would take the same statements of it (its top-level classes and
    functions keep their names and order, its other top-level statements are unchanged; the bodies may differ):
    that cell runs as it is now, so a fix can be tried without grading again;
  - any other edit, or no notebook found: that cell runs as graded, and the script says so.
A cell the grader did not take is never run, edited or new. The script runs outside the sandbox, on the student's
machine: it is the student's own code, in the student's own environment (a package the sandbox stood in for is
imported for real, or that statement is skipped and named).
"""

import hashlib
import inspect

from nn_harness.sandbox import notebook

LOADER = '''
# ---- the notebook, as the grader ran it -----------------------------------------------------------------------
import ast
import hashlib
import re
import types

MODE = {mode!r}  # --notebook-cells
SHA256 = {sha!r}  # of the notebook as graded
# (cell, first line, file label, source, indices of its top-level statements taken, None: all): what the grader ran
GRADED = {graded!r}
UNPARSED = {unparsed!r}  # (cell, line, error, names it seems to define): blocks that did not parse, not run
TEXTS = {texts!r}  # a notebook's taken cells as graded (label -> text), for tracebacks
_MAGIC = re.compile({magic!r})


{without_magics}

def shape(source):
    """What decides which statements the grader takes of a cell: each top-level class or function by its kind and
    name (its body is taken whatever it holds), every other top-level statement whole. None: it does not parse."""
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError):
        return None
    return [(type(node).__name__, node.name) if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            else ast.dump(node) for node in body]


def cells_now(path):
    """{{cell number: text}} of the notebook at `path` as it is now (numbered as the notebook shows them, from 1); {{}}
    when it is not a notebook this script can read (an exported .py: its cells then run as graded)."""
    try:
        found = json.loads(path.read_text())["cells"]
        return {{number: "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                for number, cell in enumerate(found, start=1) if cell.get("cell_type") == "code"}}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {{}}


def chunks_now(path):
    """GRADED, with each whole cell's code as it is now where the grader would take the same statements of it."""
    now, chunks, edited, stale = cells_now(path), [], [], []
    if not now:
        print(f"({{path.name}} changed since it was graded: its cells run as graded)")
        return GRADED
    for cell, first, label, source, kept in GRADED:
        text = now.get(cell)
        code = None if text is None else _without_magics(text)
        whole = label in TEXTS and source == _without_magics(TEXTS[label])  # not a block of a cell that did not parse
        if code == source or not whole and text == TEXTS.get(label):
            chunks.append((cell, first, label, source, kept))
        elif whole and code is not None and shape(code) == shape(source):
            chunks.append((cell, first, label, code, kept))
            TEXTS[label] = text
            edited.append(cell)
        else:
            chunks.append((cell, first, label, source, kept))
            stale.append(cell)
    if edited:
        print(f"(cell {{', '.join(map(str, edited))}} of {{path.name}}: as it is now, edited since grading)")
    if stale:
        print(f"(cell {{', '.join(map(str, stale))}} of {{path.name}}: as graded; what the grader takes of it changed"
              " since: grade it again for a fresh reproduction)")
    return chunks


def load(target):
    path = Path(target) if Path(target).is_file() else HERE / Path(target).name
    if not path.is_file():
        print(f"({{Path(target).name}} is neither at {{target}} nor next to this script: its cells run as graded)")
        chunks = GRADED
    elif hashlib.sha256(path.read_bytes()).hexdigest() != SHA256:
        chunks = chunks_now(path)
    else:
        chunks = GRADED
    from nn_harness.sandbox.cells import run  # the grader's own runner (the copy beside this script)

    module = types.ModuleType(path.stem)
    skipped, _ = run(vars(module), str(path), MODE, chunks, UNPARSED, TEXTS)
    for cell, line, error in skipped:
        print(f"(cell {{cell}}, line {{line}} skipped, as a failing statement is in grading: {{error}})")
    return module
'''


def loader(converted: notebook.Converted) -> str:
    """The script's `load` for `converted`: its GRADED data and the code that runs it."""
    taken = {chunk.cell.label for chunk in converted.chunks}
    return LOADER.format(mode=converted.mode, sha=hashlib.sha256(converted.source.read_bytes()).hexdigest(),
                         graded=[chunk.data() for chunk in converted.chunks], unparsed=converted.unparsed,
                         texts={label: text for label, text in converted.texts.items() if label in taken},
                         magic=notebook._MAGIC.pattern, without_magics=inspect.getsource(notebook._without_magics))
