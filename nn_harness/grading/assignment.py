"""The assignment file (`--assignment FILE` / NN_ASSIGNMENT): what one homework grades, in one TOML file.

    [assignment]          name, the layers graded (omitted: all), and any harness option by its OPTIONS name
    [points]              points per kind of check, [layers.<name>] per layer: as nn_harness/grading/weights.toml
    [visibility]          Gradescope visibility per kind of check or per layer (a layer's entry wins), and of the
                          checks worth 0 points (zero_points)

Read once per process, validated whole before anything runs: every error is a pytest.UsageError naming the file
and the key. Its options rank below the command line and the environment (nn_harness/run/options.py reads it for a run).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nn_harness.cases.profiles import PROFILES
from nn_harness.grading import points
from nn_harness.sandbox import packages
from nn_harness.sandbox.notebook import MODES

OPTION = "--assignment / NN_ASSIGNMENT"
TABLES = ("assignment", "points", "layers", "visibility")
OWN_KEYS = ("name", "layers")  # [assignment]'s keys besides the harness options
NUMBERS = ("check_timeout", "memory_limit_mb")  # options given as numbers (or their text)
BOOLEANS = ("numpy_aliases",)  # options given as true or false (or their text)
LISTS = ("allow",)  # options given as lists of names (or their comma-separated text)
PATHS = ("mnist_dir", "plots", "repro_dir", "grade_json", "html", "weights")  # relative to the assignment file


def _choices(name: str) -> tuple[str, ...]:
    """The values an option takes, from where the option is checked (no second list to keep in step)."""
    if name == "profile":
        return tuple(PROFILES)
    if name == "notebook_cells":
        return tuple(MODES)
    if name in BOOLEANS:
        return ("true", "false")
    return points.GRADE_OVER if name == "grade_over" else ()


@dataclass(frozen=True)
class Assignment:
    path: Path
    name: str
    layers: tuple[str, ...] | None = None  # None: every layer and end-to-end model is graded
    options: dict[str, str] = field(default_factory=dict)  # option -> value, as the flag would give it
    weights: points.Weights | None = None  # from [points] / [layers.<name>]; None: the weights option or default
    visibility: dict[str, str] = field(default_factory=dict)  # "default", a kind or a layer -> Gradescope's

    def graded(self, layer: str) -> bool:
        """Whether the assignment grades this layer's checks (the submission as a whole is always graded)."""
        return self.layers is None or layer in self.layers or layer == "Submission"

    def header(self, *, public: bool = False) -> str:
        """`assignment: HW2 (hw2.toml), 5 layers graded`; `public`: the file's name only (for results.json)."""
        where = self.path.name if public else str(self.path)
        graded = "all layers graded" if self.layers is None else \
            f"{len(self.layers)} layer{'s' * (len(self.layers) != 1)} graded: {', '.join(self.layers)}"
        return f"assignment: {self.name} ({where}), {graded}"


def _error(path: Path, key: str, problem: str) -> pytest.UsageError:
    return pytest.UsageError(f"{OPTION}: {path}: {key}: {problem}")


def _option(path: Path, name: str, value: Any) -> str:
    """An option's value as the flag would give it (text); a path relative to the assignment file made absolute."""
    key = f"[assignment] {name}"
    if name in NUMBERS:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise _error(path, key, f"{value!r} is not a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise _error(path, key, f"{value!r}: expected a number >= 0")
        return f"{value:g}"
    if name in BOOLEANS and isinstance(value, bool):
        value = "true" if value else "false"
    if name in LISTS:
        return _names(path, key, value)
    if not isinstance(value, str) or not value:
        raise _error(path, key, f"{value!r}: expected a string")
    if _choices(name) and value not in _choices(name):
        raise _error(path, key, f"{value!r} is not one of {', '.join(_choices(name))}")
    relative = name in PATHS or name == "api" and value.endswith(".toml") or \
        name == "impl" and (path.parent / value).exists()
    if relative and not Path(value).is_absolute():
        value = str((path.parent / value).resolve())
    if name == "api" and value != "auto":
        from nn_harness.sandbox import adapters

        try:
            adapters.adapter_for(adapters.profile_for(value))
        except adapters.ProfileError as error:
            raise _error(path, key, str(error)) from None
    return value


def _names(path: Path, key: str, value: Any) -> str:
    """A list of packages (or their comma-separated text) as the flag would give it, each one the sandbox can have."""
    names = packages.names(value) if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
        raise _error(path, key, f"{value!r}: expected a list of packages' import names")
    try:
        packages.resolve(tuple(names))
    except ValueError as error:
        raise _error(path, key, str(error)) from None
    return ",".join(names)


def _layers(path: Path, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise _error(path, "[assignment] layers", f"{value!r}: expected a non-empty list of layer names")
    known = points.layer_names()
    unknown = [name for name in value if name not in known]
    if unknown:
        raise _error(path, "[assignment] layers", f"no layer or end-to-end model is called {unknown[0]!r} "
                     f"(one of: {', '.join(known)})")
    return tuple(dict.fromkeys(value))


def _visibility(path: Path, table: Any) -> dict[str, str]:
    """[visibility]: default, zero_points (the checks worth 0 points), a kind or a layer = Gradescope's visibility."""
    if not isinstance(table, dict):
        raise _error(path, "visibility", "must be a table [visibility] of kind or layer = visibility")
    known = ["default", points.ZERO_POINTS, *points.KINDS, *points.layer_names()]
    for key, value in table.items():
        if key not in known:
            raise _error(path, f"[visibility] {key}", f"not default, zero_points, a kind of check or a layer (one of: "
                         f"{', '.join(known)})")
        if value not in points.VISIBILITIES:
            raise _error(path, f"[visibility] {key}", f"{value!r} is not one of {', '.join(points.VISIBILITIES)}")
    return dict(table)


def load(file: str | os.PathLike, known: Collection[str]) -> Assignment:
    """The assignment file, validated whole; pytest.UsageError naming the file and the key when it is unusable.
    `known`: the harness options it may set (nn_harness/run/options.py OPTIONS)."""
    path = Path(file).resolve()
    data = points.read_toml(path, OPTION)
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise _error(path, unknown[0], f"unknown top-level key or table (expected [{'], ['.join(TABLES)}])")
    head = data.get("assignment", {})
    if not isinstance(head, dict):
        raise _error(path, "assignment", "must be a table [assignment]")
    name = head.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise _error(path, "[assignment] name", f"{name!r}: expected a non-empty string")
    options = {}
    for key, value in head.items():
        if key in OWN_KEYS:
            continue
        if key not in known or key == "assignment":
            raise _error(path, f"[assignment] {key}", "unknown key: neither name, layers nor a harness option (one of: "
                         f"{', '.join(k for k in known if k != 'assignment')})")
        options[key] = _option(path, key, value)
    layers = _layers(path, head["layers"]) if "layers" in head else None
    weights = None
    if "points" in data or "layers" in data:
        if "weights" in options:
            raise _error(path, "[assignment] weights", "give either a weights file or [points] / [layers.<name>], "
                         "not both")
        default = points.load_weights(None)
        weights = points.weights_from({k: data[k] for k in ("points", "layers") if k in data},
                                       f"{OPTION}: {path}", f"{path} [points]", default=default)
    visibility = _visibility(path, data["visibility"]) if "visibility" in data else {}
    return Assignment(path, name.strip(), layers, options, weights, visibility)
