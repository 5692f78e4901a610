"""`--api STYLE`: grade code written for a course's conventions without rewriting it (docs/adapters.md).

A style is a profile (nn_harness/sandbox/adapters/profiles/*.toml, or any file given as `--api path/to/profile.toml`) read by
the driver it names. DRIVERS maps driver names to the code that drives such modules; more drivers can be
registered by other packages through the `nn_harness.drivers` entry point group. `adapt(impl, api)` returns the
Implementation whose module is the profile's namespace; `describe` gives the report-header lines.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.base import Adapter, Layer, Namespace
from nn_harness.sandbox.adapters.cached_backward import CachedBackward
from nn_harness.sandbox.adapters.cs231n import CS231n
from nn_harness.sandbox.adapters.forward_only import ForwardOnly
from nn_harness.sandbox.adapters.module_grad import ModuleGrad
from nn_harness.sandbox.adapters.native import Native
from nn_harness.sandbox.adapters.objects import Objects
from nn_harness.sandbox.adapters.profile import NotExpressible, Profile, ProfileError, load, shipped
from nn_harness.sandbox.adapters.torch7 import Torch7
from nn_harness.sandbox.adapters.update_only import UpdateOnly
from nn_harness.sandbox.loading import Implementation

BUILTIN_DRIVERS: dict[str, type[Adapter]] = {
    "native": Native, "torch7": Torch7, "cs231n": CS231n, "module-grad": ModuleGrad,
    "cached-backward": CachedBackward, "update-only": UpdateOnly,
    "objects": Objects, "forward-only": ForwardOnly}
# Ties in --api auto's probing go to the earlier profile (the course's own rules before its family's).
PRIORITY = ("practical_dl_snake", "practical_dl", "torch7", "cs231n", "update-only", "cached-backward", "module-grad",
            "layer-objects", "dict-grads", "single-sample")

__all__ = ["Adapter", "Layer", "Namespace", "NotExpressible", "Profile", "ProfileError", "adapt", "choices",
           "describe", "drivers", "profile_for", "resolve"]


@cache
def drivers() -> dict[str, type[Adapter]]:
    """Built-in drivers, and those other packages register under the `nn_harness.drivers` entry point group."""
    found = dict(BUILTIN_DRIVERS)
    for point in entry_points(group="nn_harness.drivers"):
        found[point.name] = point.load()
    return found


@cache
def profiles() -> dict[str, Profile]:
    return shipped()


def choices() -> tuple[str, ...]:
    return (*profiles(), "auto")


def profile_for(api: str) -> Profile:
    """The profile `api` names: a shipped profile's name or a path to a profile file; ProfileError otherwise."""
    if api in profiles():
        return profiles()[api]
    if api.endswith(".toml") or Path(api).is_file():
        return load(api)
    raise ProfileError(f"unknown api {api!r}: one of {', '.join(choices())}, or a path to a profile .toml file")


def adapter_for(profile: Profile) -> Adapter:
    driver = drivers().get(profile.driver)
    if driver is None:
        raise ProfileError(f"profile {profile.source}: driver: unknown driver {profile.driver!r} (one of "
                           f"{', '.join(drivers())}; more through the nn_harness.drivers entry point group)")
    unknown = sorted(set(profile.names) - set(driver.binders)) if driver is not Native else []
    if unknown:
        raise ProfileError(f"profile {profile.source}: names.{unknown[0]}: the {profile.driver} driver cannot build "
                           f"it (it builds {', '.join(driver.binders)})")
    return driver(profile)


# ------------------------------------------------------------------------------------------- --api auto: probing

# contract name -> (how to build it from a namespace, a small input): the layers --api auto tries under each profile
PROBES: dict[str, tuple[Callable[[Any], Any], tuple[int, ...]]] = {
    "Linear": (lambda nn: nn.Linear(3, 2), (2, 3)), "ReLU": (lambda nn: nn.ReLU(), (2, 3)),
    "Sigmoid": (lambda nn: nn.Sigmoid(), (2, 3)), "Tanh": (lambda nn: nn.Tanh(), (2, 3)),
    "LeakyReLU": (lambda nn: nn.LeakyReLU(0.1), (2, 3)), "ELU": (lambda nn: nn.ELU(), (2, 3)),
    "Softplus": (lambda nn: nn.Softplus(), (2, 3)), "Softmax": (lambda nn: nn.Softmax(), (2, 3)),
    "LogSoftmax": (lambda nn: nn.LogSoftmax(), (2, 3)), "Dropout": (lambda nn: nn.Dropout(0.5), (2, 3)),
    "Flatten": (lambda nn: nn.Flatten(), (2, 1, 2, 2)),
    "Conv2d": (lambda nn: nn.Conv2d(1, 2, 3, bias=False), (2, 1, 4, 4)),
    "MaxPool2d": (lambda nn: nn.MaxPool2d(2), (2, 1, 4, 4)),
}


def probe(module: ModuleType, profile: Profile) -> tuple[int, list[str]]:
    """How many of the probe layers construct and run forward, backward and parameters() under this profile, and
    what failed."""
    try:
        nn = adapter_for(profile).namespace(module)
    except Exception as error:  # noqa: BLE001 - a profile that cannot even bind is a profile that does not fit
        return 0, [f"{type(error).__name__}: {error}"]
    ran, failed = 0, []
    x = np.random.default_rng(0).standard_normal
    for name, (build, shape) in PROBES.items():
        if profile.driver != "native" and (name not in profile.names or name in nn.__stand_ins__):
            continue  # (a stand-in is the course's code, not a sign that the submission is written for it)
        try:
            layer, input = build(nn), x(shape)
            out = layer.forward(input)
            grad = layer.backward(input, np.ones_like(out))
            arrays = list(layer.parameters())
            if all(isinstance(a, np.ndarray) for a in (out, grad, *arrays)):
                ran += 1
            else:
                failed.append(f"{name}: forward, backward or parameters() did not give arrays")
        except NotExpressible:
            ran += 1  # it exists and refused only the probe's arguments
        except Exception as error:  # noqa: BLE001 - any failure means this profile does not fit this layer
            failed.append(f"{name}: {type(error).__name__}: {str(error)[:80]}")
    return ran, failed


def detect(module: ModuleType) -> tuple[str, str]:
    """(profile name, why). By fingerprints first: the profile whose [detect] names (unique to its course's
    template) the module defines most of; probes only break a tie between those, or, when no profile's names match,
    pick the profile under which most probe layers construct and run (then PRIORITY's order). A profile marked
    `auto = false` (a family's base, torch7) is never picked: a course profile covers all its template years."""
    order = [name for name in [*PRIORITY, *sorted(set(profiles()) - set(PRIORITY) - {"native"})]
             if profiles()[name].auto]
    matched = {name: adapter_for(profiles()[name]).fingerprints(module) for name in order}
    best = max(matched.values(), default=0)
    # No course's names: the contract's own style first, so it wins a tie (impl/ runs as much under snake_case).
    pool = [name for name in order if matched[name] == best] if best else ["native", *order]
    results = []
    for rank, name in enumerate(pool):
        ran, failed = probe(module, profiles()[name])
        results.append((ran, -rank, name, failed))
    ran, _, name, failed = max(results)
    if best and len(pool) == 1:
        return name, f"auto: it defines {best} of {name}'s fingerprints ({profiles()[name].signature})"
    if best:
        others = ", ".join(f"{n} {r}" for r, _, n, _ in sorted(results, reverse=True) if n != name)
        return name, (f"auto: it defines {best} of the fingerprints of {', '.join(pool)}; {ran} probe layers run "
                      f"under {name} (next: {others})")
    if ran == 0:
        what = "; ".join(failed[:3]) or "no probe layer is mapped"
        return "native", f"auto: no course's names match and no probe layer runs under any profile; under native: {what}"
    runners_up = sorted(((r, n) for r, _, n, _ in results if n != name), reverse=True)[:2]
    others = ", ".join(f"{n} {r}" for r, n in runners_up)
    return name, f"auto: no course's names match; {ran} probe layers construct and run under it (next: {others})"


# ------------------------------------------------------------------------------------------------------- adapt

def resolve(impl: Implementation, api: str) -> tuple[Profile, str]:
    """(profile, how it was chosen) for the requested api."""
    if api != "auto":
        return profile_for(api), "requested"
    if impl.module is None:
        return profiles()["native"], "auto: implementation not imported"
    name, why = detect(impl.module)
    return profiles()[name], why


def adapt(impl: Implementation, api: str) -> Implementation:
    """The implementation whose module is the chosen profile's namespace (unchanged for native or a failed import)."""
    profile, _ = resolve(impl, api)
    if impl.module is None or profile.driver == "native":
        return impl
    return dataclasses.replace(impl, module=adapter_for(profile).namespace(impl.module))


def variants_of(impl: Implementation, profile: Profile) -> dict[str, str]:
    """For each layer with template-year variants ([variants]) the submission defines: the variant its own
    constructor's signature has ("" for the profile's own [constructors])."""
    if impl.module is None:
        return {}
    found = {}
    for layer in profile.variants:
        course = getattr(impl.module, profile.course_name(layer), None)
        if course is not None:
            found[layer] = profile.variant_of(layer, course) or ""
    return found


def absent_of(impl: Implementation, profile: Profile) -> list[str]:
    """The profile's [optional] layers the submission does not define at all: not in its template year."""
    module = impl.module
    return [] if module is None else profile.absent_from(lambda name: hasattr(module, name))


def unfilled_of(impl: Implementation, profile: Profile) -> list[str]:
    """The profile's [track] layers the submission's module defines as the template ships them (`unfilled_in`), read
    from its classes' source: for the report header (the verdict reads the source itself, on the trusted side)."""
    module = impl.module
    if module is None:
        return []
    classes = {}
    for layer in profile.track:
        for name in profile.names.get(layer, (layer,)):
            try:
                tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(module, name))))
            except (AttributeError, OSError, TypeError, SyntaxError):
                continue
            classes.update({node.name: node for node in tree.body if isinstance(node, ast.ClassDef)})
    return unfilled_in(list(classes.values()), profile)


def defined_in(statements: list[ast.stmt]) -> set[str]:
    """The names these top-level statements bind: classes, functions, assignments and imports."""
    names: set[str] = set()
    for node in statements:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def unfilled_in(statements: list[ast.stmt], profile: Profile) -> list[str]:
    """The profile's [track] layers whose classes, among these top-level statements (the last definition of a name
    counts), are still the template's skeleton: every course method ([detect] methods: updateOutput, updateGradInput,
    accGradParameters) each defines itself is one (`_is_skeleton`), a part of the course the student's track does not
    ask for. A class not found is not a skeleton (graded as written)."""
    classes = {node.name: node for node in statements if isinstance(node, ast.ClassDef)}
    methods = set(profile.detect.get("methods", ()))
    found = []
    for layer in profile.track:
        defined = [classes.get(name) for name in profile.names.get(layer, (layer,))]
        own = [[node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name in methods]
               for cls in defined if cls is not None]
        if defined and None not in defined and all(own) and all(_is_skeleton(f) for fs in own for f in fs):
            found.append(layer)
    return found


def _is_skeleton(function: ast.FunctionDef) -> bool:
    """Whether a method is still the template's skeleton: its body only docstrings and comments, `pass`, asserts,
    local names set from expressions without calls (`pad_size = self.kernel_size // 2`), and `return self.output`
    (any attribute: what an unfilled torch7-style method returns is the None it started with) or `return`."""
    def names_only(target: ast.expr) -> bool:
        return isinstance(target, ast.Name) or (isinstance(target, ast.Tuple) and all(map(names_only, target.elts)))

    for statement in function.body:
        if isinstance(statement, ast.Pass | ast.Assert):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        if isinstance(statement, ast.Assign) and all(map(names_only, statement.targets)) \
                and not any(isinstance(node, ast.Call) for node in ast.walk(statement.value)):
            continue
        value = getattr(statement, "value", None)
        if isinstance(statement, ast.Return) and (value is None or ast.unparse(value) == "None" or (
                isinstance(value, ast.Attribute) and ast.unparse(value.value) == "self")):
            continue
        return False
    return True


def describe(impl: Implementation, api: str, resolved: tuple[Profile, str] | None = None) -> list[str]:
    """Report-header lines: the profile in use, why, its declared conventions, what it does not grade and why
    (`resolved`: resolve(impl, api) when the caller has it already, so auto's probing runs once)."""
    profile, how = resolved or resolve(impl, api)
    shown = profile.name if api in profiles() or api == "auto" else f"{profile.name} ({profile.source})"
    lines = [f"api: {shown} ({how})"]
    if profile.driver == "native":
        return lines
    variants = variants_of(impl, profile)
    for layer, name in variants.items():  # which template year's constructor, and why: its conventions follow
        takes = ", ".join(profile.variants[layer][name].constructor if name else profile.constructors.get(layer, ()))
        lines.append(f"  variant {layer}: {name or 'the profile default'} (its constructor takes {takes})")
    profile = profile.with_variants(variants)
    lines += [f"  convention {topic}: {text}" for topic, text in profile.conventions.items()]
    if "Dropout" in profile.names and impl.module is not None:
        course = getattr(impl.module, profile.names["Dropout"][0], None)
        if course is not None:
            lines.append(f"  convention dropout p: {profile.dropout_keeps(course)[1]}")
    lines += [f"  not expressible: {name}: {why}" for name, why in profile.unexpressible.items()]
    lines += [f"  not graded (course-supplied): {name}: {why}" for name, why in profile.supplied.items()]
    rules = profile.rules
    bound = "any" if rules.value_bound is None else f"within +-{rules.value_bound:g}"
    lines.append(f"  rules in scope: gradients {rules.gradients}, float32 {'yes' if rules.float32 else 'no'}, "
                 f"backward in eval mode {'yes' if rules.backward_in_eval else 'no'}, input values {bound}, "
                 f"kinks {'yes' if rules.kinks else 'no'}, gradient and moving-statistics shapes {rules.shapes}; "
                 f"checks beyond them {'scored' if rules.beyond == 'score' else 'shown for 0 points'}")
    if not rules.backward:
        lines.append("  not graded: every check but forward matches torch (rules.backward = false: the course's layers "
                     "are forward only)")
    lines += [f"  not graded: {layer}'s grad of {', '.join(names)} (rules.omitted_gradients: the course's code does not "
              "compute it)" for layer, names in rules.omitted_gradients.items()]
    if impl.module is not None:
        ns = adapter_for(profile).namespace(impl.module)
        lines += [f"  course-supplied code added: {name}: {why}" for name, why in ns.__stand_ins__.items()]
        graded = profile.without(absent_of(impl, profile), unfilled_of(impl, profile))
        lines += [f"  not graded (not in its template): {name}: {why}" for name, why in graded.absent.items()]
        lines += [f"  not graded (left as its template's skeleton): {name}: {why}" for name, why in graded.unfilled.items()]
        lines += [f"  not implemented: {name}: {why}" for name, why in ns.__missing__.items()
                  if name not in profile.unexpressible and name not in graded.absent]  # those are not graded at all
    return lines
