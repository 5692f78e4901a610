"""Packages a course allows the submission to import (`allow`: nn_harness/sandbox/imports.py Settings), trusted side.

Each allowed package is found in the grader's environment with the packages it needs (its requirements outside any
extra, as installed here), as the top-level entries of site-packages their distributions installed (`scipy`,
`scipy.libs`, `scipy-1.17.1.dist-info`): what the sandbox binds read-only beside NumPy (nn_harness/sandbox/jail.py).
Only what is installed here can be allowed; frameworks and the grader's own code never can, nor what needs them.
"""

from __future__ import annotations

import pkgutil
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from nn_harness.sandbox.imports import FRAMEWORKS, refusal

ALREADY_THERE = ("numpy",)  # distributions every sandbox has (bound by nn_harness/sandbox/client.py itself)
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class Allowed:
    folders: dict[str, str] = field(default_factory=dict)  # top-level entry of site-packages -> its path here
    shown: dict[str, list[str]] = field(default_factory=dict)  # each allowed package -> the distributions it needs


def names(text: str | None) -> tuple[str, ...]:
    """`scipy, skimage` (the option's text) as ("scipy", "skimage")."""
    return tuple(name.strip() for name in (text or "").split(",") if name.strip())


@cache
def resolve(allowed: tuple[str, ...]) -> Allowed:
    """What the sandbox binds for these packages (import names); ValueError naming the package when one is refused,
    not installed here, or needs what is refused."""
    result = Allowed()
    for name in allowed:
        why = refusal(name) if name.isidentifier() else f"{name!r} is not a package's import name (e.g. skimage)"
        if why:
            raise ValueError(why)
        providers = _providers().get(name)
        if not providers:
            raise ValueError(f"{name!r} is not installed in the grader's environment (install it there first)")
        brought = _closure(name, providers)
        for dist in brought:
            result.folders.update(_entries(dist, name))
        own = {_key(provider) for provider in providers}
        result.shown[name] = sorted({dist.metadata["Name"] for dist in brought if _key(dist.metadata["Name"]) not in own})
    return result


def _closure(name: str, providers: list[str]) -> list[metadata.Distribution]:
    """The distributions providing `name` and those they need, as installed here (not NumPy: it is there already)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(providers)
    while todo:
        dist = _installed(todo.pop())
        if dist is None or _key(dist.metadata["Name"]) in seen or _key(dist.metadata["Name"]) in ALREADY_THERE:
            continue
        seen[_key(dist.metadata["Name"])] = dist
        # A requirement under an extra is optional; one for another platform or Python is not installed here.
        todo += [match[1] for requirement in dist.requires or [] if "extra" not in requirement
                 for match in [_NAME.match(requirement)] if match]
    return list(seen.values())


@cache
def _providers() -> dict[str, list[str]]:
    """Import name -> the distributions installing it (a few tenths of a second: once per process)."""
    return metadata.packages_distributions()


def _installed(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _entries(dist: metadata.Distribution, allowed: str) -> dict[str, str]:
    """The top-level entries of site-packages `dist` installed (its packages, modules, .libs and dist-info)."""
    if dist.files is None:
        raise ValueError(f"{allowed!r} needs {dist.metadata['Name']}, which lists no files (no RECORD): bind it by hand")
    tops = {file.parts[0] for file in dist.files if file.parts and file.parts[0] not in ("..", "__pycache__")}
    framework = sorted(top for top in tops if top.partition(".")[0].partition("-")[0] in FRAMEWORKS)
    if framework:
        raise ValueError(f"{allowed!r} needs {dist.metadata['Name']}, which holds {framework[0]}: {refusal(framework[0])}")
    return {top: str(Path(dist.locate_file(top))) for top in sorted(tops) if Path(dist.locate_file(top)).exists()}


@cache
def installed() -> tuple[str, ...]:
    """The top-level modules importable here (the grader's environment): a stand-in for one of them in the sandbox
    says the course does not allow it, rather than that it is not installed (nn_harness/sandbox/imports.py)."""
    return tuple(sorted({module.name for module in pkgutil.iter_modules()}))
