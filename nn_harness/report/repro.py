"""Save a failing layer case as a reproduction a student can run without the test suite (`--repro-dir DIR`):
`<name>.npz` (input, parameters, upstream gradient, and torch's expected results) and `<name>.py`, a short
script that rebuilds the layer from the student's own code and prints every mismatch. Needs only NumPy. A notebook
is loaded as the grader ran it (nn_harness/report/repro_notebook.py).
"""

import inspect
import json
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np

import reference
from nn_harness.cases.layer_case import LayerCase, twin_of
from nn_harness.report import repro_notebook
from nn_harness.sandbox import adapters, imports, notebook

PACKAGE = Path(__file__).resolve().parents[1]  # nn_harness
# Beside the scripts, when a script needs it (a notebook's cells, a course style's adapter): the harness's sandbox
# side (standard library and NumPy only), copied as the sandbox gets it, and a course profile of the grader's own.
SUPPORT = "nn_harness_sandbox"

# How the script imports a .py file, a package folder or a module (a notebook: repro_notebook.LOADER).
MODULE_LOADER = '''def load(target):
    path = Path(target)
    if path.suffix == ".py" or path.is_dir():
        init = path / "__init__.py" if path.is_dir() else path
        sys.path.insert(0, str(path.resolve().parent))
        spec = importlib.util.spec_from_file_location(path.stem, init, submodule_search_locations=[str(path)]
                                                      if path.is_dir() else None)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(target)
'''

# A course style's layers, seen through the adapter the grader drove them with: the native contract used below.
ADAPT = '''from nn_harness.sandbox import adapters  # the copy beside this script

nn = adapters.adapter_for(adapters.profile_for(str(HERE / STYLE) if STYLE.endswith(".toml") else STYLE)).namespace(nn)
'''

SCRIPT = '''"""Reproduces "{title}" for {case}.

Run:  python {script}   (needs only NumPy and your implementation; edit IMPL to point elsewhere)
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

IMPL = {impl!r}
NUMPY_ALIASES = {aliases!r}  # restored as the builtins before IMPL loads, as the grader did (code for NumPy < 1.24)
STYLE = {style!r}  # --api: the course style the layers were graded in, driven here through the grader's adapter
RANDOM = {random!r}  # True when the layer draws at random in this mode (Dropout's mask): torch's values are another draw
HERE = Path(__file__).resolve().parent
{support}data = np.load(HERE / "{npz}", allow_pickle=False)
args = json.loads(str(data["args"]))


{load}

{build}

def report(what, got, expected):
    if RANDOM:
        print(f"{{what}}: shape {{np.shape(got)}}, dtype {{getattr(got, 'dtype', type(got).__name__)}}"
              " (values not compared: random in {mode} mode)")
        return
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        print(f"{{what}}: shape {{got.shape}}, expected {{expected.shape}}")
        return
    diff = np.abs(got - expected)
    bad = ~(diff <= 1e-9 + 1e-6 * np.abs(expected))
    if not bad.any():
        print(f"{{what}}: ok")
        return
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.where(np.isnan(diff), np.inf, diff))), diff.shape))
    print(f"{{what}}: {{int(bad.sum())}} / {{bad.size}} mismatched; worst at {{worst}}: expected {{expected[worst]:.6g}},"
          f" got {{got[worst]:.6g}}")


for name in NUMPY_ALIASES:
    if name not in vars(np):
        setattr(np, name, getattr(builtins, name))
nn = load(IMPL)
{adapt}layer = build(nn, args)
for array, name in zip(layer.parameters(), {names!r}):
    array[...] = data["param_" + name]
for name in {buffers!r}:
    getattr(layer, name)[...] = data["buffer_" + name]
layer.zero_grad()
layer.{mode}()
INPUTS, OUTPUTS = {inputs!r}, {outputs!r}  # several: forward and backward take and return tuples, in this order
inputs = [data["input_" + name].copy() for name in INPUTS]
outputs = layer.forward(*inputs)
for output, name in zip(outputs if len(OUTPUTS) > 1 else [outputs], OUTPUTS):
    report(name, output, data["expected_" + name])
for name in {buffers!r}:
    report(name + " after forward", getattr(layer, name), data["expected_buffer_" + name])
grads = layer.backward(*inputs, *[data["grad_" + name].copy() for name in OUTPUTS])
for grad, name in zip(grads if len(INPUTS) > 1 else [grads], INPUTS):
    if "expected_grad_of_" + name in data:  # integer inputs (indices) have no gradient
        report("grad of " + name, grad, data["expected_grad_of_" + name])
for grad, name in zip(layer.grad_parameters(), {names!r}):
    report("grad of " + name, grad, data["expected_grad_" + name])
'''


def _build_source(case: LayerCase) -> str:
    """The registry's build function as source, so the script builds exactly what the check built."""
    if case.spec.build is None:
        return f"def build(nn, args):\n    return nn.{case.spec.name}(**args)\n"
    source = textwrap.dedent(inspect.getsource(case.spec.build))
    return re.sub(r"^def \w+\(", "def build(", source, count=1)


def shown(script: Path) -> Path:
    """The script's path as a report gives it: relative to the working directory when it lies under it, else its
    name (the folder it was saved in is --repro-dir's, and results.json names no folder of the grading machine)."""
    try:
        return script.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(script.name)


def _support(folder: Path, style: str) -> str:
    """Copy the harness's sandbox side into `folder` / SUPPORT; the style as the script names it (a profile of the
    grader's own: its copy there, with the profiles it may extend)."""
    root = folder / SUPPORT
    (root / "nn_harness").mkdir(parents=True, exist_ok=True)
    shutil.copy(PACKAGE / "__init__.py", root / "nn_harness" / "__init__.py")
    shutil.copytree(PACKAGE / "sandbox", root / "nn_harness" / "sandbox", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    if not style.endswith(".toml"):
        return style
    (root / "profiles").mkdir(exist_ok=True)
    for toml in Path(style).resolve().parent.glob("*.toml"):
        shutil.copy(toml, root / "profiles" / toml.name)
    return f"{SUPPORT}/profiles/{Path(style).name}"


def save(case: LayerCase, title: str, impl_target: str, directory: str | Path, *, style: str = "native",
         converted: notebook.Converted | None = None, numpy_aliases: bool = False) -> Path:
    """Write `<layer>-<check>.npz` and `.py` into `directory`; return the script's path. `style`: the course style
    (--api) the run graded in (the script drives the layers through its adapter); `converted`: the notebook as the
    grader ran it (the script runs the same statements); `numpy_aliases`: the grader restored them."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{case.spec.name}-{title.replace(' ', '-')}"
    twin, names, values, buffers = twin_of(case)
    truth = reference.run_layer(twin, values, case.inputs, case.upstream, training=case.mode == "train", buffers=buffers)
    spec = case.spec
    outputs = spec.output_names if len(spec.output_names) > 1 else ("output",)
    arrays = {"args": np.array(json.dumps(case.args))}
    arrays |= {f"input_{n}": x for n, x in zip(spec.input_names, case.inputs)}
    arrays |= {f"expected_{n}": out for n, out in zip(outputs, truth.outputs)}
    arrays |= {f"grad_{n}": g for n, g in zip(outputs, truth.grad_outputs)}
    arrays |= {f"expected_grad_of_{n}": g for n, g in zip(spec.input_names, truth.grad_inputs) if g is not None}
    arrays |= {f"param_{n}": v for n, v in zip(names, values)}
    arrays |= {f"expected_grad_{n}": truth.grad_parameters[n] for n in names}
    arrays |= {f"buffer_{n}": v for n, v in buffers.items()}
    arrays |= {f"expected_buffer_{n}": truth.buffers[n] for n in buffers}
    np.savez(folder / f"{stem}.npz", **arrays)
    native = adapters.profile_for(style).driver == "native"
    shown_style = style if native and not converted else _support(folder, style)
    support = "" if native and not converted else \
        f"sys.path.insert(0, str(HERE / {SUPPORT!r}))  # the grader's sandbox side (cells, adapters), copied\n"
    script = folder / f"{stem}.py"
    impl = str(Path(impl_target).resolve()) if Path(impl_target).exists() else impl_target
    script.write_text(SCRIPT.format(title=title, case=repr(case), script=script.name, impl=impl, npz=f"{stem}.npz",
                                    load=repro_notebook.loader(converted) if converted else MODULE_LOADER,
                                    aliases=sorted(imports.ALIASES) if numpy_aliases else [], style=shown_style,
                                    support=support, adapt="" if native else ADAPT,
                                    build=_build_source(case), names=names, buffers=list(buffers), mode=case.mode,
                                    inputs=list(case.spec.input_names), outputs=list(outputs),
                                    random=case.random))
    return script
