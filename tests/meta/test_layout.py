"""The package's layout is its architecture: stages import only the stages below them, the sandbox imports none of
them (nor torch), no module imports itself back through others, and importing the package costs nothing."""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nn_harness"
# Top to bottom (nn_harness/__init__.py); the package's own root modules (the notebook API, __main__) sit above all.
STAGES = ("run", "report", "grading", "checks", "cases", "training", "sandbox")
# What the sandbox process must never load: it runs beside the submission (nn_harness/sandbox/__init__.py).
NEVER_IN_SANDBOX = ("torch", "hypothesis", "pytest", "reference", "impl")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function (a lazy import is still a dependency)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from pkg import module`
    return found


MODULES = {module_name(path): imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or len(parts) == 2 and parts[1] in STAGES else None


def own(module: str) -> str | None:
    """The package's module that an import names (the import of a name from it counts as the module)."""
    while module and module not in MODULES:
        module = module.rpartition(".")[0]
    return module or None


def test_every_module_lies_in_a_stage() -> None:
    loose = [m for m in MODULES if m.count(".") >= 1 and stage_of(m) not in STAGES
             and m not in ("nn_harness.__main__", "nn_harness.notebook_check")]
    assert not loose, f"modules outside every stage folder: {loose}"


def test_a_stage_imports_only_the_stages_below_it() -> None:
    wrong = []
    for module, names in MODULES.items():
        stage = stage_of(module)
        if stage is None:
            continue  # the package's root modules: above every stage
        for name in names:
            target = own(name)
            other = stage_of(target) if target else None
            if other is not None and STAGES.index(other) < STAGES.index(stage):
                wrong.append(f"{module} ({stage}) imports {target} ({other}, above it)")
    assert not wrong, "\n".join(wrong)


def test_the_sandbox_imports_no_other_stage_nor_torch() -> None:
    wrong = []
    for module, names in MODULES.items():
        if stage_of(module) != "sandbox":
            continue
        for name in names:
            target = own(name)
            if target and stage_of(target) not in ("sandbox", None):
                wrong.append(f"{module} imports {target}")
            if name.split(".")[0] in NEVER_IN_SANDBOX:
                wrong.append(f"{module} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_no_import_circles() -> None:
    graph = {module: {t for name in names for t in [own(name)] if t and t != module} for module, names in MODULES.items()}
    # A package's __init__ is imported with each of its modules; it is not a dependency of theirs to follow back.
    graph = {module: {t for t in targets if not module.startswith(t + ".")} for module, targets in graph.items()}
    circles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circles.append(" -> ".join(path[path.index(module):] + [module]))
            return
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert not circles, "\n".join(circles)


def test_importing_the_package_imports_nothing_heavy() -> None:
    code = "import sys, nn_harness; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', " \
           "'hypothesis', 'pytest') or m.startswith('nn_harness.')))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr


@pytest.mark.parametrize("entry", ["python -m nn_harness", "nn-harness"])
def test_a_students_own_impl_reference_and_tests_are_never_ours(tmp_path: Path, entry: str) -> None:
    """A student folder holding modules named impl, reference and tests (ours are top-level packages too), graded from
    inside it: the submission imports its own, and the grader's side (pytest's processes) imports none of them."""
    tripwire = tmp_path / "imported by the grader"
    student = tmp_path / "student"
    (student / "tests").mkdir(parents=True)
    for name in ("impl.py", "reference.py", "tests/__init__.py"):
        (student / name).write_text(textwrap.dedent(f"""\
            import sys
            OWNER = "student"
            if "_pytest" in sys.modules:  # the grader's side: it must never import a student's module
                open({str(tripwire)!r}, "a").write({name!r} + "\\n")
            """))
    layer = "".join((ROOT / "impl" / name).read_text() for name in ("module.py", "linear.py"))
    layer = layer.replace("from .module import Module, uniform_init", "").replace("from __future__ import annotations", "")
    (student / "layers.py").write_text("from __future__ import annotations\n\nimport impl, reference, tests\n\n"
                                       "assert impl.OWNER == reference.OWNER == tests.OWNER == 'student'\n" + layer)
    command = [sys.executable, "-m", "nn_harness"] if entry.startswith("python") else \
        [str(Path(sys.executable).parent / "nn-harness")]
    run = subprocess.run([*command, "--impl", "layers.py", "-m", "Linear", "-n", "2", "--profile", "dev"],
                         capture_output=True, text=True, cwd=student, timeout=600)
    assert not tripwire.exists(), f"the grader imported the student's {tripwire.read_text().split()}"
    assert run.returncode == 0 and "Linear" in run.stdout and "passed" in run.stdout, run.stdout[-3000:] + run.stderr
