"""Import the implementation under test from a module name, a `.py` file or a package folder."""

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
    if not init.is_file():
        raise ImportError(f"{path} is not a .py file or a package folder with an __init__.py")
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
    return module


def load_implementation(target: str) -> Implementation:
    """Never raises for a broken submission: the error is kept and reported by every check."""
    path = Path(target)
    try:
        module = _import_path(path.resolve()) if path.suffix == ".py" or path.is_dir() else importlib.import_module(target)
    except (Exception, SystemExit) as error:  # noqa: BLE001 - a submission's import failure is a verdict
        lines = traceback.format_exception(error)
        return Implementation(target, None, "".join(lines[-4:]).rstrip() or repr(error))
    return Implementation(target, module)
