"""--repro-dir: the saved case and script reproduce the mismatch without the suite, and agree on a correct layer;
for a notebook, the script runs the statements the grader ran (nn_harness/report/repro_notebook.py)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from nn_harness.cases.layer_case import LayerCase
from nn_harness.cases.registry import SPECS
from nn_harness.report import repro
from nn_harness.sandbox import notebook
from tests.meta.practical_dl_class import BUGGY, EXAMPLE
from tests.meta.test_notebook import LINEAR, MODULE, write_notebook

ROOT = Path(__file__).resolve().parents[2]
CASE = LayerCase(SPECS["Linear"], {"in_features": 3, "out_features": 2, "bias": True},
                 np.random.default_rng(0).standard_normal((4, 3)), seed=5, mode="train")


def run(script: Path, cwd: Path | None = None) -> str:
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                          cwd=cwd or script.parent).stdout


def test_correct_layer_reproduces_as_ok(tmp_path):
    out = run(repro.save(CASE, "backward matches torch", str(ROOT / "impl"), tmp_path))
    assert out.splitlines() == ["output: ok", "grad of input: ok", "grad of weight: ok", "grad of bias: ok"]


def test_broken_layer_shows_the_mismatch(tmp_path):
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(ROOT / "impl"), str(broken)], check=True)
    linear = broken / "linear.py"
    linear.write_text(linear.read_text().replace("self._grads[1] += g.sum(axis=0)", "self._grads[1] += g[0]"))
    out = run(repro.save(CASE, "backward matches torch", str(broken), tmp_path / "cases"))
    assert "grad of weight: ok" in out and "grad of bias: 2 / 2 mismatched" in out


def test_sequential_is_rebuilt_from_the_registry_source(tmp_path):
    case = LayerCase(SPECS["Sequential"], {"in_features": 2, "hidden": 3, "out_features": 2, "activation": "Sigmoid"},
                     np.ones((2, 2)), seed=1, mode="eval")
    out = run(repro.save(case, "forward matches torch", str(ROOT / "impl"), tmp_path))
    assert "output: ok" in out and "mismatched" not in out


# ---------------------------------------------------------------------------------------------- notebooks

BUG = ("self._grads[1] += g.sum(axis=0)", "self._grads[1] += g[0]")  # the bias gradient of sample 0 alone
ALIASED = "        self.dtype = np.float\n"  # NumPy < 1.24's alias: the grader restores it under --numpy-aliases


def buggy_notebook(path: Path) -> Path:
    """A notebook whose Linear drops the batch sum of its bias gradient, and whose later cells the grader never
    runs (a training cell, a markdown one in between): running them would print TRAINING RAN."""
    linear = LINEAR.replace(*BUG).replace("        super().__init__()\n", "        super().__init__()\n" + ALIASED)
    return write_notebook(path, [new_markdown_cell("# Homework"),
                                 new_code_cell("%matplotlib inline\nimport numpy as np\nrng = np.random.default_rng(0)\n"),
                                 new_code_cell(MODULE), new_code_cell(linear),
                                 new_code_cell("print('TRAINING RAN')\nmodel = Linear(3, 2)\n")])


def edit_cell(path: Path, number: int, old: str, new: str) -> None:
    book = nbformat.read(path, as_version=4)
    assert old in book.cells[number - 1].source
    book.cells[number - 1].source = book.cells[number - 1].source.replace(old, new)
    nbformat.write(book, path)


def test_a_notebooks_script_runs_the_graded_cells_from_any_folder(tmp_path):
    (tmp_path / "student").mkdir()
    path = buggy_notebook(tmp_path / "student" / "homework.ipynb")
    script = repro.save(CASE, "backward matches torch", str(path), tmp_path / "cases",
                        converted=notebook.convert(path, "definitions"), numpy_aliases=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    upstream = np.load(script.with_suffix(".npz"))["grad_output"]
    worst = int(np.argmax(np.abs(upstream.sum(axis=0) - upstream[0])))  # what the bug gives: sample 0's alone
    out = run(script, elsewhere)
    assert out.splitlines() == ["output: ok", "grad of input: ok", "grad of weight: ok",
                                f"grad of bias: 2 / 2 mismatched; worst at ({worst},): expected "
                                f"{upstream.sum(axis=0)[worst]:.6g}, got {upstream[0][worst]:.6g}"]

    edit_cell(path, 4, BUG[1], BUG[0])  # fixed inside a method: the grader would take the same statements
    assert run(script, elsewhere).splitlines() == ["(cell 4 of homework.ipynb: as it is now, edited since grading)",
                                                   "output: ok", "grad of input: ok", "grad of weight: ok",
                                                   "grad of bias: ok"]

    edit_cell(path, 4, "class Linear(", "print('TOP LEVEL RAN')\n\nclass Linear(")  # what the grader takes changed
    out = run(script, elsewhere)
    assert "TOP LEVEL RAN" not in out and "cell 4 of homework.ipynb: as graded" in out and "2 / 2 mismatched" in out

    shutil.move(path, script.parent / path.name)  # not at its original path: the one next to the script
    assert "cell 4 of homework.ipynb: as graded" in run(script, elsewhere)
    os.remove(script.parent / path.name)
    out = run(script, elsewhere)
    assert "homework.ipynb is neither at" in out and "2 / 2 mismatched" in out and "TRAINING RAN" not in out


def test_without_the_graders_numpy_aliases_the_notebooks_script_fails_as_the_grader_would(tmp_path):
    if "float" in vars(np):  # a NumPy < 1.24 has the alias: nothing to tell apart
        pytest.skip(f"NumPy {np.__version__} still has np.float")
    path = buggy_notebook(tmp_path / "homework.ipynb")
    script = repro.save(CASE, "backward matches torch", str(path), tmp_path / "cases",
                        converted=notebook.convert(path, "definitions"))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "has no attribute 'float'" in result.stderr


def practical_dl_notebook(path: Path) -> Path:
    """The practical_dl homework as a notebook, one class per cell, with the class bank's averaged bias gradient
    (tests/meta/practical_dl_class) and a training cell the grader never runs."""
    source = (EXAMPLE / "modules.py").read_text()
    for _, old, new in next(m for m in BUGGY if m.name == "linear_bias_grad_mean").edits:
        source = source.replace(old, new)
    classes = source.split("\nclass ")
    cells = [classes[0], *("class " + text for text in classes[1:]), "net = Sequential()\nprint('TRAINING RAN')\n"]
    return write_notebook(path, [new_markdown_cell("# homework01"), *map(new_code_cell, cells)])


def test_a_course_styles_notebook_is_driven_through_its_adapter(tmp_path):
    path = practical_dl_notebook(tmp_path / "homework.ipynb")
    script = repro.save(CASE, "backward matches torch", str(path), tmp_path / "cases", style="practical_dl",
                        converted=notebook.convert(path, "definitions"), numpy_aliases=True)
    upstream = np.load(script.with_suffix(".npz"))["grad_output"]
    expected, got = upstream.sum(axis=0), upstream.mean(axis=0)  # the bug: averaged over the batch
    worst = int(np.argmax(np.abs(expected - got)))
    assert run(script, tmp_path).splitlines() == [
        "output: ok", "grad of input: ok", "grad of weight: ok",
        f"grad of bias: 2 / 2 mismatched; worst at ({worst},): expected {expected[worst]:.6g}, got {got[worst]:.6g}"]


@pytest.mark.slow
def test_a_graded_notebooks_saved_script_shows_the_failure(tmp_path):
    path = practical_dl_notebook(tmp_path / "homework.ipynb")
    command = [sys.executable, "-m", "nn_harness", "--impl", str(path), "--api", "auto",
               "--repro-dir", str(tmp_path / "cases"), "-n", "0", "-m", "Linear", "-p", "no:cacheprovider"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_")}
    graded = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert graded.returncode == 1 and "api: practical_dl (auto" in graded.stdout and \
        "or without the suite: python cases/Linear-backward-matches-torch.py" in graded.stdout, \
        graded.stdout[-3000:] + graded.stderr[-3000:]
    out = run(tmp_path / "cases" / "Linear-backward-matches-torch.py", ROOT)
    assert "grad of weight: ok" in out and "grad of bias: " in out and " mismatched; worst at (0,)" in out
    assert "TRAINING RAN" not in out and "skipped" not in out
