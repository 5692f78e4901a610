"""Notebook submissions (nn_harness/sandbox/notebook.py, nn_harness/sandbox/cells.py): what is taken from a notebook, what is
skipped and named, and that the rest is graded. Notebooks are built with nbformat in tmp_path."""

import ast
import importlib.util
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nn_harness.report import provenance
from nn_harness.sandbox import notebook
from nn_harness.sandbox.client import Limits, Sandbox, _hello
from nn_harness.sandbox.notebook import Skip

ROOT = Path(__file__).resolve().parents[2]
LAYERS = (Path(__file__).parent / "hostile" / "_layers.py").read_text()
MODULE = LAYERS[LAYERS.index("class Module:"):LAYERS.index("class Linear(")]
LINEAR = LAYERS[LAYERS.index("class Linear("):LAYERS.index("class ReLU(")]
RELU = LAYERS[LAYERS.index("class ReLU("):].replace("class ReLU(Module):", "class ReLU(Base):")  # Base: a later cell

# One cell per situation, numbered as the notebook shows them (markdown counts).
CELLS = [
    new_markdown_cell("# Homework 2: layers"),                                                     # 1
    new_code_cell("%matplotlib inline\nimport numpy as np\nimport d2l\n!pip install tqdm\n"
                  "EPS = 1e-8\nrng = np.random.default_rng(0)\n"),                                 # 2
    new_code_cell(MODULE),                                                                          # 3
    new_code_cell(LINEAR),                                                                          # 4
    new_code_cell(RELU),                                                                            # 5
    new_code_cell("class Tanh(Module):\n    def forward(self, x)\n        return np.tanh(x)\n"),  # 6
    new_code_cell("model = Linear(3, 2)\nfor epoch in range(3):\n    raise RuntimeError('training ran')\n"),  # 7
    new_code_cell("%%bash\nls /\n"),                                                               # 8
    new_code_cell("class Base(Module):\n    pass\n"),                                              # 9
]


def write_notebook(path: Path, cells: list = CELLS) -> Path:
    nbformat.write(new_notebook(cells=cells), path)
    return path


def load_generated(converted: notebook.Converted, folder: Path) -> object:
    """The generated module, imported in this process (as the sandbox does, but without the sandbox)."""
    path = folder / f"{converted.source.stem}_{converted.source.suffix[1:]}.py"
    path.write_text(converted.module_text())
    spec = importlib.util.spec_from_file_location(f"generated_{folder.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def homework(tmp_path: Path) -> Path:
    return write_notebook(tmp_path / "homework.ipynb")


# ---------------------------------------------------------------------------------------------- the conversion

def test_definitions_takes_definitions_and_names_what_does_not_parse(homework):
    converted = notebook.convert(homework, "definitions")
    assert converted.code_cells == 8 and converted.taken == 5  # cells 2, 3, 4, 5, 9
    assert converted.skipped == [Skip(6, 2, "SyntaxError: expected ':'")]
    taken = {cell for cell, *_ in (chunk.data() for chunk in converted.chunks)}
    assert 7 not in taken and 8 not in taken  # the training loop, the %%bash cell
    assert converted.header([]) == ("notebook: 8 code cells, 5 taken (definitions), 1 skipped: "
                                    "cell 6, line 2 (SyntaxError: expected ':')")


def test_an_empty_script_read_as_cells_has_no_statement(tmp_path):
    """An empty .py with --notebook-cells (the placeholder a Gradescope bundle collects its checks with) is no error."""
    (tmp_path / "empty.py").write_text("")
    assert notebook.convert(tmp_path / "empty.py", "definitions").statements() == []


def test_magics_and_shell_lines_become_pass_keeping_line_numbers(homework):
    cell = notebook.convert(homework, "all").chunks[0]
    lines = cell.source.splitlines()
    assert lines[0] == "pass" and lines[3] == "pass" and lines[4] == "EPS = 1e-8"


def test_generated_module_defines_the_layers_and_records_what_failed(homework, tmp_path):
    module = load_generated(notebook.convert(homework, "definitions"), tmp_path)
    assert module.Linear(3, 2).forward(module.np.ones((1, 3))).shape == (1, 2)
    assert issubclass(module.ReLU, module.Base)  # Base is defined in a later cell: run again after it
    assert module.EPS == 1e-8 and not hasattr(module, "model")  # a constant is taken, a call that trains is not
    assert module.__notebook_skipped__ == [[2, 3, "ModuleNotFoundError: No module named 'd2l'"]]
    assert module.__missing__["Tanh"] == "cell 6, line 2: SyntaxError: expected ':'"


def test_all_runs_every_cell_and_a_failing_one_costs_only_itself(homework, tmp_path):
    module = load_generated(notebook.convert(homework, "all"), tmp_path)
    assert isinstance(module.model, module.Linear)
    assert [2, 3, "ModuleNotFoundError: No module named 'd2l'"] in module.__notebook_skipped__
    assert [7, 3, "RuntimeError: training ran"] in module.__notebook_skipped__
    assert not hasattr(module, "ReLU")  # its base comes later, and `all` runs each statement once, in order


def test_a_traceback_shows_the_students_cell_and_line(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [new_code_cell("x = 1\n\ndef forward(x):\n    return x / 0\n")])
    module = load_generated(notebook.convert(path, "definitions"), tmp_path)
    with pytest.raises(ZeroDivisionError) as raised:
        module.forward(1)
    frame = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert frame.filename.endswith("nb.ipynb, cell 1") and frame.lineno == 4 and frame.line == "return x / 0"


def test_a_cell_that_does_not_parse_costs_only_the_block_it_is_in(tmp_path):
    source = LINEAR + "\nclass Broken(Module):\n    def forward(self, x):\n        return x +\n\n" + RELU
    path = write_notebook(tmp_path / "nb.ipynb", [new_code_cell(MODULE + "\nclass Base(Module):\n    pass\n"),
                                                  new_code_cell(source)])
    converted = notebook.convert(path, "definitions")
    line = source.splitlines().index("        return x +") + 1
    assert converted.skipped == [Skip(2, line, "SyntaxError: invalid syntax")]
    module = load_generated(converted, tmp_path)
    assert hasattr(module, "Linear") and hasattr(module, "ReLU") and not hasattr(module, "Broken")
    assert module.__missing__["Broken"].startswith(f"cell 2, line {line}: SyntaxError")


@pytest.mark.parametrize(("source", "taken"), [
    ("import numpy as np", True),
    ("from numpy.random import default_rng", True),
    ("@staticmethod\ndef f(x):\n    return x", True),
    ("EPS = 1e-8", True),
    ("DTYPE = np.float64", True),
    ("A, B = 1, (2, -3.0)", True),
    ("scale: float = 2 ** -3", True),
    ("rng = np.random.default_rng(0)", True),
    ("act = lambda x: x * 2", True),
    ("try:\n    import tqdm\nexcept ImportError:\n    tqdm = None", True),
    ("data = load_mnist()", False),
    ("name = input()", False),
    ("w = np.zeros(train())", False),  # a NumPy call of a call that trains
    ("model.eps = 1e-3", False),
    ("for i in range(3):\n    pass", False),
    ("plt.plot([1, 2])", False),
    ("np.random.seed(0)", False),  # an expression statement: not an assignment
    ("try:\n    train()\nexcept Exception:\n    pass", False),
    ("if __name__ == '__main__':\n    main()", False),
])
def test_what_definitions_takes(source, taken):
    assert notebook.is_definition(ast.parse(source).body[0], {"np"}) is taken


def test_modes_and_their_validation(tmp_path):
    assert notebook.mode_for("hw.ipynb", None) == "definitions"
    assert notebook.mode_for("hw.ipynb", "all") == "all"
    assert notebook.mode_for("hw.py", None) is None  # a .py is a module unless asked otherwise
    assert notebook.mode_for("hw.py", "definitions") == "definitions"
    assert notebook.mode_for("impl", "all") is None
    with pytest.raises(ValueError, match="'everything' is not one of definitions, all"):
        notebook.mode_for("hw.ipynb", "everything")
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a notebook nbformat can read"):
        notebook.convert(bad, "definitions")


def test_an_unknown_mode_is_a_usage_error(homework):
    result = subprocess.run([sys.executable, "-m", "nn_harness", "--impl", str(homework), "--notebook-cells", "most",
                             "-n", "0", "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 4
    assert "--notebook-cells / NN_NOTEBOOK_CELLS: 'most' is not one of definitions, all" in result.stderr


# ---------------------------------------------------------------------------------------------- exported .py

EXPORTED = ("#!/usr/bin/env python\n# coding: utf-8\n\n"
            "# In[1]:\n\n\nimport numpy as np\nimport d2l\nrng = np.random.default_rng(0)\n\n\n"
            f"# In[2]:\n\n\n{MODULE}\nclass Base(Module):\n    pass\n\n\n"
            f"# In[3]:\n\n\n{LINEAR}\n\n"
            "# In[4]:\n\n\nget_ipython().run_line_magic('matplotlib', 'inline')\nLinear(2, 2).forward(None)\n\n\n"
            "# %% [markdown]\n# Now ReLU.\n\n"
            f"# %%\n{RELU}\n    def broken(self):\n        return self.(\n")


def test_an_exported_py_is_read_by_its_cells_with_the_files_line_numbers(tmp_path):
    path = tmp_path / "homework.py"
    path.write_text(EXPORTED)
    converted = notebook.convert(path, "definitions")
    assert converted.code_cells == 5  # In[1..4] and one `# %%`; the preamble and the markdown cell are not code
    lines = EXPORTED.splitlines()
    assert converted.skipped == [Skip(6, lines.index("        return self.(") + 1, "SyntaxError: invalid syntax")]
    module = load_generated(converted, tmp_path)
    assert module.__notebook_skipped__ == [[1, lines.index("import d2l") + 1,
                                            "ModuleNotFoundError: No module named 'd2l'"]]
    assert hasattr(module, "Linear") and not hasattr(module, "ReLU")
    with pytest.raises(AttributeError) as raised:
        module.Linear(2, 2).forward(None)
    frame = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert Path(frame.filename) == path and frame.line == lines[frame.lineno - 1].strip()


# ---------------------------------------------------------------------------------------------- the sandbox

def test_the_sandbox_imports_the_generated_module_and_reports_its_skips(homework):
    box = Sandbox(str(homework), "native", Limits())
    try:
        hello = box.start()
        assert hello.ok, hello.error
        assert hello.origin == str(homework)  # the generated module is shown as the notebook
        # A package the sandbox lacks is a stand-in there (nn_harness/sandbox/imports.py): only its users would fail.
        assert hello.skipped == [] and hello.stand_ins == [["d2l", "homework.ipynb, cell 2:3", "not installed"]]
        assert box.converted.header([Skip(*s) for s in hello.skipped]) == (
            "notebook: 8 code cells, 5 taken (definitions), 1 skipped: cell 6, line 2 (SyntaxError: expected ':')")
        assert box.root.Linear(3, 2).forward(box.root.np.ones((2, 3))).shape == (2, 2)
    finally:
        box.stop()


def test_what_the_sandbox_says_of_skips_is_only_plain_short_data():
    lies = [[1, 2, "x" * 10_000], ["1", 2, "a string cell"], [1, 2], "not a list", [True, 3, "a bool"], [4, 5, 6]]
    assert _hello({"skipped": lies}, None).skipped == [[1, 2, "x" * 300], [4, 5, "6"]]
    assert _hello({"skipped": {"a": 1}}, None).skipped == []


def test_numpy_only_scans_what_is_taken_named_by_cell(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [
        new_code_cell("import numpy as np\nimport torch.nn as tnn\n"),
        new_code_cell("import tensorflow\nfor _ in range(2):\n    import jax\n"),  # the loop is not taken
    ])
    found = [str(item) for item in provenance.forbidden_imports(str(path), [str(path)])]
    assert found == [f"{path}, cell 1:2: imports torch.nn (PyTorch)", f"{path}, cell 2:1: imports tensorflow (TensorFlow)"]
    assert len(provenance.forbidden_imports(str(path), [], "all")) == 3


# ---------------------------------------------------------------------------------------------- graded end to end

def grade(impl: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    """The grader on `impl` in a subprocess, as an instructor runs it (as tests/meta/test_hostile.py does)."""
    command = [sys.executable, "-m", "nn_harness", "--impl", str(impl), "-m", "Linear or ReLU", "--grade-json", str(out),
               "-p", "no:cacheprovider", "--profile", "dev", "-n", "0", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_")}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.is_file(), f"no results.json:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result, json.loads(out.read_text())


@pytest.mark.slow
def test_a_notebook_is_graded_in_full_and_its_skips_are_named(homework, tmp_path):
    result, report = grade(homework, tmp_path / "results.json")
    layers = {test["tags"][0] for test in report["tests"]}
    assert layers == {"Linear", "ReLU"} and all(test["status"] == "passed" for test in report["tests"]), result.stdout
    assert report["score"] == report["max_score"] > 0 and result.returncode == 0
    assert ("notebook: 8 code cells, 5 taken (definitions), 1 skipped: cell 6, line 2 (SyntaxError: expected ':')"
            in report["output"].splitlines())
    assert ("imports the sandbox has no module for (only what uses them fails): d2l (homework.ipynb, cell 2:3, "
            "not installed)") in report["output"].splitlines()


@pytest.mark.slow
def test_a_failing_check_shows_the_students_cell_and_line(tmp_path):
    wrong = RELU.replace("return np.maximum(input, 0)", "return np.maximum(input, 0) + undefined_name")
    path = write_notebook(tmp_path / "nb.ipynb", [new_code_cell("import numpy as np\nrng = np.random.default_rng(0)\n" + MODULE),
                                                  new_code_cell("class Base(Module):\n    pass\n\n" + LINEAR),
                                                  new_code_cell(wrong)])
    result, report = grade(path, tmp_path / "results.json")
    forward = next(test for test in report["tests"] if test["name"] == "ReLU: forward matches torch")
    assert forward["status"] == "failed"
    assert "at nb.ipynb, cell 3:3: return np.maximum(input, 0) + undefined_name" in forward["output"]  # its name only
    assert all(t["status"] == "passed" for t in report["tests"] if t["tags"][0] == "Linear"), result.stdout


@pytest.mark.slow
def test_an_exported_py_is_graded_by_its_cells_when_asked(tmp_path):
    path = tmp_path / "homework.py"
    path.write_text(EXPORTED.replace("    def broken(self):\n        return self.(\n", ""))
    result, report = grade(path, tmp_path / "results.json", "--notebook-cells", "definitions")
    assert report["score"] == report["max_score"] > 0, result.stdout
    assert "notebook: 5 code cells, 4 taken (definitions), none skipped" in report["output"]  # d2l: a stand-in
