"""The submission's imports, sandbox side: what `import x` gives when the sandbox has no x, and NumPy's old aliases.

The server (nn_harness/sandbox/server.py) installs both before it imports the submission:
  - Stand-ins. An import of the submission's that no real finder satisfies (torch, a package the course does not
    allow, one nobody installed) and that the submission does not handle itself (no enclosing `try` of its own
    catching ImportError: an optional import keeps its fallback) gets a stand-in module instead of failing the whole
    import. Reading its attributes gives more stand-ins (`from torch import nn`, `import torch.nn.functional as F`,
    `torch.float32` as a default, `nn.Module` as a base class), so only what uses it fails: calling one, indexing or
    iterating it raises ModuleNotFoundError naming the call and why (`torch.tensor: this submission's sandbox has no
    torch (the layers must use NumPy only)`). Stand-ins are plain Python: no framework is ever loaded (the memory
    map check stays exact), and the NumPy-only check still scans the import itself (nn_harness/report/provenance.py).
  - numpy_aliases: np.object, np.float, np.int, np.bool, np.complex, np.str as NumPy < 1.24 had them (the builtins).
  - Always: skimage.util.pad, once skimage.util is imported, where scikit-image >= 0.19 lacks it. It was NumPy's
    np.pad under another name, and a course's template may suggest it (practical_dl's Conv2d: "It may be
    convenient to use `skimage.util.pad` for zero-padding"): its absence is the grader's scikit-image, no bug.
After the import, `written_in` tells a submission whose layers are written in a framework (their code uses its
stand-in and none uses NumPy: the TensorFlow original of a NumPy port) from one that only imports it: the first is
refused with one line naming the framework, the second graded.
What to install comes from the trusted side (nn_harness/sandbox/client.py): a course profile's [sandbox] table and
the options numpy_aliases and allow (nn_harness/sandbox/packages.py finds the allowed packages; jail.py binds them).
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import inspect
import linecache
import os
import re
import sys
import types
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NoReturn

FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib", "keras")  # what the layers are written instead of
SPELLED = {"torch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX", "jaxlib": "JAX", "keras": "Keras"}
GRADERS = ("impl", "reference", "nn_harness", "tests", "bench")  # the grader's own code: never the submission's
ALIASES = {"object": object, "float": float, "int": int, "bool": bool, "complex": complex, "str": str}
# What an `except` must name to handle a failed import (a bare `except:` does too).
CATCHES_IMPORT_ERROR = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


@dataclass(frozen=True)
class Settings:
    """What the sandbox offers the submission's imports (a course profile's [sandbox] table, or the options)."""

    numpy_aliases: bool = False  # restore NumPy < 1.24's aliases of the builtins
    allow: tuple[str, ...] = ()  # packages (import names) bound from the grader's environment


def refusal(name: str) -> str | None:
    """Why `name` may never be allowed into the sandbox, or None when it may."""
    top = name.partition(".")[0]
    if top in FRAMEWORKS:
        return f"{name!r} is a framework: the layers must use NumPy only, so the sandbox never has it"
    if top in GRADERS:
        return f"{name!r} is the grader's own code: the sandbox never has it"
    return None


def absence(top: str, installed: Collection[str]) -> tuple[str, str]:
    """(kind, why) the sandbox has no module `top`: for the header and for the stand-in's error."""
    if top in FRAMEWORKS:
        return "a framework", f"this submission's sandbox has no {top} (the layers must use NumPy only)"
    if top in GRADERS:
        return "the grader's own", f"this submission's sandbox has no {top} (the grader's own code)"
    if top in installed:
        return "not allowed", f"the submission imports {top}, which this assignment does not allow (add it to `allow`)"
    return "not installed", f"No module named {top!r} where the submission is graded (not installed, nor its own file)"


def restore_aliases() -> list[str]:
    """np.object, np.float, ... as the builtins, where this NumPy lacks them (NumPy 2 has np.bool again, as its own
    boolean type, which old code uses the same way: it stays); the names restored."""
    import numpy

    missing = [name for name in ALIASES if name not in vars(numpy)]  # not hasattr: NumPy warns on the removed ones
    for name in missing:
        setattr(numpy, name, ALIASES[name])
    return missing


class OldNames(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: when skimage.util is imported (by whichever real finder finds it), its `pad` is
    added after it runs, as numpy.pad, if this scikit-image lacks it."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "skimage.util":
            return None
        for finder in sys.meta_path:  # a real one: a stand-in skimage's util stays a stand-in
            spec = None if finder is self or isinstance(finder, StandIns) or not hasattr(finder, "find_spec") \
                else finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _WithPad(spec.loader)
                return spec
        return None


class _WithPad(importlib.abc.Loader):
    """A loader of skimage.util that adds numpy.pad as its `pad` when the module it ran has none."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self.loader.exec_module(module)
        if "pad" not in vars(module):
            import numpy
            module.pad = numpy.pad

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, get_filename, is_package, ...
        return getattr(self.loader, name)


class Absent:
    """An attribute of a stand-in module: reading its attributes gives more of them; using it raises."""

    __slots__ = ("_path", "_why")

    def __init__(self, path: str, why: str) -> None:
        self._path, self._why = path, why

    def __getattr__(self, name: str) -> Absent:
        if name.startswith("__"):  # protocol probes (NumPy's __array__, copy's, pickle's): it has none
            raise AttributeError(name)
        return Absent(f"{self._path}.{name}", self._why)

    def _fail(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ModuleNotFoundError(f"{self._path}: {self._why}", name=self._path.partition(".")[0])

    __call__ = __getitem__ = __iter__ = _fail

    def __mro_entries__(self, bases: tuple) -> tuple[type]:
        """`class Net(nn.Module)` defines a class (the submission's import goes on); making one raises."""
        return (type(self._path.rpartition(".")[2], (), {"__init__": self._fail}),)

    def __instancecheck__(self, instance: Any) -> bool:
        return False  # nothing in the sandbox is a tensor of a framework it does not have

    def __subclasscheck__(self, subclass: type) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<stand-in for {self._path}>"


class AbsentModule(types.ModuleType):
    """A stand-in module: a package (its submodules are stand-ins too) whose attributes are Absent."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(name, f"stand-in: {why}")
        self.__path__: list[str] = []
        self.__stand_in__ = why

    def __getattr__(self, name: str) -> Absent:
        if name.startswith("__"):
            raise AttributeError(name)
        return Absent(f"{self.__name__}.{name}", self.__stand_in__)


class StandIns(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path, so asked only for what no real finder found: a stand-in for the submission's own
    imports (`copy`: the folder its files lie in), when it does not handle the ImportError itself."""

    def __init__(self, copy: str, installed: Collection[str]) -> None:
        self.copy = copy.rstrip(os.sep) + os.sep
        self.installed = frozenset(installed)
        self.made: list[tuple[str, str, int]] = []  # (module, file, line) of each top-level stand-in, for the header
        self._tries: dict[str, list[tuple[int, int]]] = {}  # file -> lines of its try blocks catching ImportError

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        parent, _, _ = fullname.rpartition(".")
        if parent:  # a submodule: of a stand-in, a stand-in; of a real package, that package's own error
            return self._spec(fullname) if isinstance(sys.modules.get(parent), AbsentModule) else None
        where = self._importer()
        if where is None:
            return None
        self.made.append((fullname, *where))
        return self._spec(fullname)

    def _spec(self, name: str) -> importlib.machinery.ModuleSpec:
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> AbsentModule:
        return AbsentModule(spec.name, absence(spec.name.partition(".")[0], self.installed)[1])

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: a stand-in is made whole by create_module."""

    def _importer(self) -> tuple[str, int] | None:
        """The submission's line that imports (file, line), or None: when the import is not the submission's own
        (NumPy's, an allowed package's, the harness's: theirs to handle) or a `try` of the submission's on the way
        there catches ImportError (an optional import: the submission has its fallback)."""
        frame = sys._getframe(1)
        while frame is not None and _machinery(frame):
            frame = frame.f_back
        if frame is None or not frame.f_code.co_filename.startswith(self.copy):
            return None
        where = (frame.f_code.co_filename, frame.f_lineno)
        while frame is not None:
            if frame.f_code.co_filename.startswith(self.copy) and self._handled(frame.f_code.co_filename, frame.f_lineno):
                return None
            frame = frame.f_back
        return where

    def _handled(self, file: str, line: int) -> bool:
        if file not in self._tries:
            self._tries[file] = _guarded_lines(file)
        return any(first <= line <= last for first, last in self._tries[file])


def _machinery(frame: types.FrameType) -> bool:
    """A frame of the import system (importlib, import_module, find_spec) or of this module, not an importer's."""
    name = frame.f_globals.get("__name__", "")
    return frame.f_code.co_filename.startswith("<frozen importlib") or name == __name__ or \
        name == "importlib" or name.startswith("importlib.")


def _guarded_lines(file: str) -> list[tuple[int, int]]:
    """(first, last) line of the body of each `try` in `file` that catches ImportError. linecache has the source of
    a file and of a notebook's cell alike (nn_harness/sandbox/cells.py puts cells there)."""
    try:
        tree = ast.parse("".join(linecache.getlines(file)))
    except (SyntaxError, ValueError):
        return []
    return [(node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno) for node in ast.walk(tree)
            if isinstance(node, ast.Try | ast.TryStar) and any(map(_catches_import_error, node.handlers))]


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    named = {node.id if isinstance(node, ast.Name) else node.attr for node in ast.walk(handler.type)
             if isinstance(node, ast.Name | ast.Attribute)}
    return bool(named & CATCHES_IMPORT_ERROR)


def install(config: dict, copy: str) -> tuple[list[str], StandIns]:
    """Before the submission is imported: the aliases (when asked), skimage.util.pad's finder first on the meta path,
    and the stand-ins' finder, last.
    (The aliases restored, the finder.)"""
    aliases = restore_aliases() if config.get("numpy_aliases") else []
    sys.meta_path.insert(0, OldNames())
    finder = StandIns(copy, config.get("installed", ()))
    sys.meta_path.append(finder)
    return aliases, finder


def written_in(module: types.ModuleType) -> str | None:
    """Why the submission is refused, in one line, when its code (the classes and functions its own files define,
    as its namespace holds them) uses a framework's stand-in and none of it uses NumPy; None otherwise: an unused
    import, or a NumPy submission one of whose layers calls the framework (that layer fails, naming the call)."""
    def own(value: Any) -> bool:  # defined in the submission's module or in one of its package's
        where = str(getattr(value, "__module__", ""))
        return where == module.__name__ or where.startswith(module.__name__ + ".")

    code = [value for value in list(vars(module).values())
            if (inspect.isclass(value) or inspect.isfunction(value)) and own(value)]
    frameworks: dict[str, list[str]] = {}
    uses_numpy = False
    for value in code:
        found = {_origin(used) for used in _globals_used(value)}
        uses_numpy = uses_numpy or "numpy" in found
        for top in found - {None, "numpy"}:
            frameworks.setdefault(top, []).append(value.__name__)
    if not frameworks or uses_numpy:
        return None
    top, names = max(frameworks.items(), key=lambda item: len(item[1]))
    return (f"uses {SPELLED[top]} (in {', '.join(sorted(names))}; none of its code uses NumPy): this harness grades "
            "NumPy implementations; port the layers to NumPy")


def called_at_import(error: str) -> str | None:
    """The same one line for a submission whose import itself calls a framework's stand-in (the book's notebook
    builds its model at the top level: `NaiveDense(...)` runs tf.random.uniform), read from the import's error (the
    stand-in's own message, `Absent._fail`); None for any other error."""
    found = re.search(r"ModuleNotFoundError: ((\w+)[\w.]*): this submission's sandbox has no \2 ", error)
    if found is None or found[2] not in FRAMEWORKS:
        return None
    return (f"uses {SPELLED[found[2]]} when imported ({found[1]}): this harness grades NumPy implementations; port the "
            "layers to NumPy")


def _globals_used(value: Any) -> list[Any]:
    """The module-level objects a class's or function's code reads (its methods', properties', nested functions')."""
    functions = [value] if inspect.isfunction(value) else [
        f for attr in vars(value).values() for f in (attr, getattr(attr, "__func__", None), getattr(attr, "fget", None))
        if inspect.isfunction(f)]
    used = []
    for function in functions:
        codes = [function.__code__]
        while codes:
            code = codes.pop()
            used += [function.__globals__[name] for name in code.co_names if name in function.__globals__]
            codes += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return used


def _origin(value: Any) -> str | None:
    """"numpy" for NumPy (the module or one of its objects), a framework's name for its stand-in, else None."""
    if isinstance(value, AbsentModule | Absent):
        top = (value.__name__ if isinstance(value, AbsentModule) else value._path).partition(".")[0]
        return top if top in FRAMEWORKS else None
    try:
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    except Exception:  # noqa: BLE001 - an object of the submission's own whose attributes raise: not NumPy's
        return None
    return "numpy" if isinstance(name, str) and name.partition(".")[0] == "numpy" else None
