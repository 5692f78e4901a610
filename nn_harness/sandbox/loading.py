"""Import the implementation under test from a module name, a `.py` file or a folder: a package, or a student's
folder of scripts (no __init__.py, or one that defines nothing), whose files are gathered into one namespace."""

import ast
import hashlib
import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from nn_harness.sandbox.student import CheckFailure


@dataclass(frozen=True)
class Implementation:
    """The code under test, or why it could not be imported (then every check fails with that reason)."""

    target: str  # what the user asked for: `impl`, `alice.py`, `submissions/bob/`
    module: ModuleType | None
    error: str | None = None

    @property
    def origin(self) -> str:
        return getattr(self.module, "__file__", None) or self.target

    def require(self, names: tuple[str, ...]) -> ModuleType:
        """The module, when it defines every name; CheckFailure otherwise."""
        return required(self.target, self.module, self.error, names)


def required(target: str, module: Any, error: str | None, names: tuple[str, ...]) -> Any:
    """`module` (the submission, or its namespace under an --api profile), when it was imported and defines every
    name; CheckFailure saying why not otherwise. Handles to the sandbox's namespace (nn_harness/run/session_sandbox.py) too."""
    if module is None:
        raise CheckFailure(f"could not import the implementation {target!r}:\n{error}")
    missing = [name for name in names if not hasattr(module, name)]
    if missing:
        why = getattr(module, "__missing__", {})  # which course names an --api profile's namespace lacks
        reasons = "".join(f"\n  {name}: {why[name]}" for name in missing if isinstance(why, dict) and name in why)
        raise CheckFailure(f"{target} does not define {', '.join(missing)}: not implemented{reasons}")
    return module


def _unique_name(path: Path) -> str:
    """A module name of its own per file or folder, so two submissions never collide in sys.modules (a package
    loaded this way must import its own modules relatively, or by its folder name from its parent folder)."""
    return f"submission_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"


def _import_path(path: Path) -> ModuleType:
    package = path.is_dir()
    init = path / "__init__.py" if package else path
    if package and not init.is_file():
        return _import_folder(path, ModuleType(_unique_name(path)))
    if not init.is_file():
        raise ImportError(f"{path}: no such .py file")
    name = _unique_name(path)
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(path)] if package else None)
    module = importlib.util.module_from_spec(spec)
    # The submission's own folder is importable while it loads: students split code over files.
    folder = str(path.parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(folder)
    if package and not any(_defines(module, value) is not None for value in vars(module).values()):
        return _import_folder(path, module)  # an empty __init__.py (CS231n's cs231n/): the layers are in its files
    return module


# Run as they would never be in a student's folder of layers: packaging scripts, pytest's configuration.
NOT_LAYERS = frozenset({"setup.py", "conftest.py"})


def _import_folder(path: Path, package: ModuleType) -> ModuleType:
    """`package` (empty, or what the folder's __init__.py made) with the classes and functions each of the folder's
    .py files defines. Each is imported as the student runs it: from within the folder (`from layer import Layer`),
    as a module of `package`'s, so that nothing collides with another submission. A file that fails (a training
    script wanting its data, a package the sandbox lacks) costs only the names it defines, each recorded in
    `__missing__` with why; none importing is the submission's error."""
    files = sorted(file for file in path.glob("*.py") if file.name not in NOT_LAYERS and file.name != "__init__.py")
    package.__path__ = [str(path)]
    missing: dict[str, str] = {}
    sys.modules[package.__name__] = package
    folders = [str(path), str(path.parent)]  # `from layer import ...` as the student runs it; `from deepnet.layer ...`
    sys.path[:0] = folders
    errors = []
    try:
        for file in files:
            try:
                module = importlib.import_module(f"{package.__name__}.{file.stem}")
            except (Exception, SystemExit) as error:  # noqa: BLE001 - one file's failure costs only its names
                why = f"{file.name} failed to import ({type(error).__name__}: {str(error).strip()[:200]})"
                errors.append(why)
                missing.update(dict.fromkeys(_top_level_names(file), why))
                continue
            for key, value in vars(module).items():
                if _defines(module, value) and key not in vars(package):
                    setattr(package, key, value)
    finally:
        for folder in folders:
            sys.path.remove(folder)
    if files and len(errors) == len(files):
        sys.modules.pop(package.__name__, None)
        raise ImportError(f"no file of {path} imports: " + "; ".join(errors))
    package.__missing__ = {key: why for key, why in missing.items() if key not in vars(package)}
    return package


def _defines(module: ModuleType, value: Any) -> bool | None:
    """Whether `value` is a class or function `module` defines itself (not one it imported); None for anything else."""
    if not (isinstance(value, type) or callable(value) and hasattr(value, "__code__")):
        return None
    return getattr(value, "__module__", None) == module.__name__


def _top_level_names(file: Path) -> list[str]:
    """The classes and functions a file defines at its top level (the names a failed import costs)."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return []
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)]


def load_implementation(target: str) -> Implementation:
    """Never raises for a broken submission: the error is kept and reported by every check."""
    path = Path(target)
    try:
        module = _import_path(path.resolve()) if path.suffix == ".py" or path.is_dir() else importlib.import_module(target)
    except (Exception, SystemExit) as error:  # noqa: BLE001 - a submission's import failure is a verdict
        lines = traceback.format_exception(error)
        return Implementation(target, None, "".join(lines[-4:]).rstrip() or repr(error))
    return Implementation(target, module)
