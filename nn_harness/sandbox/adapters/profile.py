"""Course profiles: a course style declared as data (a TOML file), read and validated here.

A profile says what a course's code looks like (the names of its classes, functions and methods, its layouts and
conventions), which contract names the style cannot express and why, which names are course-supplied (not the
student's work, so not graded), the cases it can state (narrowing: constructor arguments, input ranks, value
ranges), which rules of the contract are in scope for that course (accumulate or overwrite gradients, float32,
backward in eval mode), and what the course's code may import in the sandbox ([sandbox]: NumPy's old aliases, the
packages it allows). The code that drives such modules (the *driver*) is named by the profile and shared by
every profile of the same family; see docs/adapters.md for the format and a worked example.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nn_harness.sandbox.imports import Settings, refusal

SHIPPED_DIR = Path(__file__).resolve().parent / "profiles"

# Contract checks a course's rules put beyond the course (a [rules] key -> the checks it governs). Names are the check
# names of the report ("gradients accumulate", ...), i.e. the test function without `test_`.
RULE_CHECKS = {
    "gradients": ("gradients accumulate",),
    "float32": ("float32 preserved", "loss float32 preserved"),
    "value_bound": ("stable for large logits", "stable for large inputs", "long saturating sequence"),
    "kinks": ("subgradient at kink", "maxpool ties conserve gradient"),
}
BEYOND = "beyond the course"  # a check that runs for 0 points: the course's own tests do not ask for it
# The checks a course whose layers have no backward (rules.backward = false) can be graded on: forward alone.
FORWARD_CHECKS = ("forward matches torch",)
# Checks that call backward (their cases are narrowed to training mode when backward_in_eval is false).
BACKWARD_CHECKS = ("backward matches torch", "backward matches finite differences", "gradients accumulate",
                   "zero grad zeroes buffers", "inputs not modified", "float32 preserved", "no stale cache",
                   "subgradient at kink", "maxpool ties conserve gradient", "batch size changes between passes")
KEYS = {"extends", "name", "driver", "signature", "description", "detect", "names", "constructors", "methods", "options",
        "conventions", "unexpressible", "unexpressible_checks", "supplied", "narrow", "rules", "sandbox",
        "evidence", "variants", "auto", "optional", "track"}
# The contract's constructor arguments in torch's positional order, and torch's defaults: an argument a course
# constructor does not take is expressible only at its default.
CONTRACT_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "Linear": ("in_features", "out_features", "bias"),
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
    "MaxPool2d": ("kernel_size", "stride", "padding"), "LeakyReLU": ("negative_slope",), "Dropout": ("p",),
    "BatchNorm1d": ("num_features", "eps", "momentum"), "ELU": ("alpha",), "Softplus": ("beta", "threshold"),
}
CONTRACT_DEFAULTS: dict[str, dict[str, Any]] = {
    "Linear": {"bias": True}, "Conv2d": {"stride": 1, "padding": 0, "bias": True},
    "MaxPool2d": {"stride": "kernel_size", "padding": 0},  # stride None: the kernel's
    "LeakyReLU": {"negative_slope": 0.01}, "Dropout": {"p": 0.5},
    "BatchNorm1d": {"eps": 1e-5, "momentum": 0.1}, "ELU": {"alpha": 1.0}, "Softplus": {"beta": 1.0, "threshold": 20.0},
}
RULE_KEYS = {"gradients", "float32", "backward", "backward_in_eval", "value_bound", "kinks", "beyond", "ranges", "ranks",
             "spreads", "zero_inputs", "omitted_gradients", "shapes"}
SANDBOX_KEYS = {"numpy_aliases", "allow"}  # [sandbox]: what the submission's imports find (imports.Settings)


class ProfileError(ValueError):
    """A profile that cannot be used: the message names the file and the key."""



class NotExpressible(Exception):
    """Raised for constructor arguments (or a mode) the course style cannot express; the check reports it."""

    def __init__(self, style: str, what: str) -> None:
        super().__init__(f"{what}: not expressible in {style} style")

@dataclass(frozen=True)
class Rules:
    """Which rules of the contract this course asks for."""

    gradients: str = "accumulate"  # "accumulate" (+=, the contract) or "overwrite" (the latest backward's)
    float32: bool = True  # float32 in gives float32 out
    # The course's layers have a backward; false: forward only (Chollet's NaiveDense), so only FORWARD_CHECKS are
    # graded and every other check (backward, the contract's, training) is not graded
    backward: bool = True
    backward_in_eval: bool = True  # backward is differentiated in eval mode too (BatchNorm)
    # The largest |value| of the inputs the course's own tests use: layer inputs and scores drawn larger are scaled
    # into it, and the checks of stability far beyond it are beyond the course. None: the contract's (up to 1e4).
    value_bound: float | None = None
    kinks: bool = True  # the course's inputs hit kinks and ties exactly (ReLU at 0, tied maxima)
    beyond: str = "show"  # checks beyond the course: "show" (run, listed, 0 points) or "score" (graded as any)
    ranges: Mapping[str, Mapping[str, tuple[float, float]]] = field(default_factory=dict)  # layer -> arg -> [lo, hi]
    ranks: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # layer -> input ranks the course uses
    # criterion -> the largest difference between one sample's scores the course's code computes exactly (a clipped
    # probability beyond it): cases are scaled down to it
    spreads: Mapping[str, float] = field(default_factory=dict)
    # layer -> further inputs (by the registry's input names) the course's code holds at zero and does not
    # differentiate (cs231n's lstm_forward takes no c0): drawn as zeros, their gradients not compared
    zero_inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # layer -> inputs (the first, "input", too) whose gradient the course's code does not compute by design (the
    # "CNNs from scratch" tutorial's first layer returns None): what backward returns for them is not compared
    omitted_gradients: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # "exact", or "allclose": the course compares parameter gradients with np.allclose, which broadcasts, so one of
    # the parameter's size in fewer dimensions (a (1,) bias's returned as ()) is read in the parameter's shape
    shapes: str = "exact"


@dataclass(frozen=True)
class Variant:
    """One template year's constructor of a layer ([variants.<Layer>.<name>]): recognised from the submission's own
    signature (`Profile.variant_of`), graded on the cases it can state."""

    constructor: tuple[str, ...]  # the contract's arguments it takes, in its positional order
    narrow: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # as [narrow.<Layer>], replacing it
    divisible_by: str | None = None  # the argument the input's height and width are multiples of (its asserts)
    why: str = ""  # the convention, for the report header


@dataclass(frozen=True)
class Profile:
    name: str
    driver: str  # the code that drives such modules: a key of nn_harness.sandbox.adapters.DRIVERS (or an entry point)
    source: str  # the file it was read from
    signature: str = ""  # why --api auto picks it, for the report header
    auto: bool = True  # --api auto may pick it (false: a family's base, named only by --api)
    description: str = ""
    detect: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # classes / functions / methods
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # contract name -> the course's names
    # contract name -> the contract's constructor arguments the course constructor takes, in its positional order
    constructors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    methods: Mapping[str, str] = field(default_factory=dict)  # the driver's method roles -> the course's names
    options: Mapping[str, Any] = field(default_factory=dict)  # driver settings (e.g. dropout_p = "keep")
    conventions: Mapping[str, str] = field(default_factory=dict)  # topic -> how it is converted
    unexpressible: Mapping[str, str] = field(default_factory=dict)  # contract name -> why never expressible
    unexpressible_checks: Mapping[str, str] = field(default_factory=dict)  # "Layer: check" -> why never expressible
    supplied: Mapping[str, str] = field(default_factory=dict)  # contract name -> why not graded (course code)
    # contract name -> which template years lack it: one the submission does not define at all is not in its
    # template (a year that asks for a layer ships its skeleton), so not graded; `absent` holds those (`without`)
    optional: Mapping[str, str] = field(default_factory=dict)
    absent: Mapping[str, str] = field(default_factory=dict)
    # contract name -> why a student may leave it as the template's skeleton (a track of the course that does not ask
    # for it): one whose course methods are all that skeleton is not graded; `unfilled` holds those (`without`)
    track: Mapping[str, str] = field(default_factory=dict)
    unfilled: Mapping[str, str] = field(default_factory=dict)
    narrow: Mapping[str, Mapping[str, tuple[Any, ...]]] = field(default_factory=dict)  # layer -> arg -> values
    rules: Rules = field(default_factory=Rules)
    sandbox: Settings = field(default_factory=Settings)  # NumPy's old aliases, the packages the course allows
    evidence: Mapping[str, str] = field(default_factory=dict)  # a [rules] key -> the course's text that asks for it
    variants: Mapping[str, Mapping[str, Variant]] = field(default_factory=dict)  # layer -> name -> its variant
    divisible: Mapping[str, str] = field(default_factory=dict)  # layer -> argument (a variant in use: `with_variants`)

    def variant_of(self, layer: str, course: Any) -> str | None:
        """The variant of `layer` the course class's own signature has ([variants]): the one whose constructor takes
        as many positional arguments as it does, else the longest it can be called with; None for the profile's
        own [constructors] (or when the layer has no variants)."""
        options = self.variants.get(layer)
        if not options or course is None:
            return None
        try:
            params = [p for p in inspect.signature(course).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            return None
        required = sum(p.default is p.empty for p in params)
        candidates = {None: self.constructors.get(layer, ()), **{n: v.constructor for n, v in options.items()}}
        exact = [name for name, takes in candidates.items() if len(takes) == len(params)]
        if exact:
            return exact[0]
        fitting = [name for name, takes in candidates.items() if required <= len(takes) <= len(params)]
        return max(fitting, key=lambda name: len(candidates[name])) if fitting else None

    def with_variants(self, chosen: Mapping[str, str | None]) -> Profile:
        """This profile with each layer's chosen variant in place of its [constructors] and [narrow] entries."""
        constructors, narrow = dict(self.constructors), dict(self.narrow)
        divisible, conventions = dict(self.divisible), dict(self.conventions)
        for layer, name in chosen.items():
            variant = self.variants.get(layer, {}).get(name) if name else None
            if variant is None:
                continue
            constructors[layer], narrow[layer] = variant.constructor, dict(variant.narrow)
            conventions[layer] = variant.why or conventions.get(layer, "")
            if variant.divisible_by:
                divisible[layer] = variant.divisible_by
        applied = set(chosen)  # decided, the default ("" or None) included
        variants = {layer: named for layer, named in self.variants.items() if layer not in applied}
        return dataclasses.replace(self, constructors=constructors, narrow=narrow, divisible=divisible,
                                   conventions=conventions, variants=variants)

    def for_course(self, layer: str, course: Any) -> Profile:
        """The profile as it applies to this course class of `layer`: its variant in place, the layer's variants
        decided."""
        return self.with_variants({layer: self.variant_of(layer, course) or ""})

    def course_name(self, contract_name: str) -> str:
        return self.names.get(contract_name, (contract_name,))[0]

    def method(self, role: str) -> str:
        return self.methods.get(role, role)

    def arguments(self, layer: str, args: tuple, kwargs: Mapping[str, Any], course: Any = None) -> list[Any]:
        """The course constructor's positional arguments for a contract constructor call ([constructors] says
        which contract arguments it takes, in its order). An argument the course constructor does not take must be
        at the value the course implies: torch's default, or the one value [narrow] gives it ('same' padding,
        stride = kernel_size); else NotExpressible. Dropout's p is converted when the course's p is the KEEP one."""
        if self.variants.get(layer):  # the course class's own variant, then as for any layer
            return self.for_course(layer, course).arguments(layer, args, kwargs, course)
        given = {**dict(zip(CONTRACT_ARGUMENTS.get(layer, ()), args)), **kwargs}
        takes = self.constructors.get(layer, ())
        defaults = CONTRACT_DEFAULTS.get(layer, {})
        implied = {**defaults, **{arg: values[0] for arg, values in self.narrow.get(layer, {}).items()
                                  if len(values) == 1}}

        def fits(arg: str, value: Any) -> bool:
            if arg not in implied:
                return False
            return _as_pair(resolve_argument(given, arg, value)) == _as_pair(resolve_argument(given, arg, implied[arg]))

        dropped = {k: v for k, v in given.items() if k not in takes and not fits(k, v)}
        if dropped:
            shown = ", ".join(f"{k}={v!r}" for k, v in dropped.items())
            raise NotExpressible(self.name, f"{layer}({shown}) (the course's {self.course_name(layer)} takes "
                                            f"{', '.join(takes) or 'no argument'})")
        values = [given[k] if k in given else resolve_argument(given, k, defaults.get(k)) for k in takes]
        if layer == "Dropout" and "p" in takes and self.dropout_keeps(course)[0]:
            values[takes.index("p")] = 1 - values[takes.index("p")]
        return values

    def dropout_keeps(self, course: Any) -> tuple[bool, str]:
        """Whether the course's dropout p is the probability of KEEPING a unit, and how that was decided:
        options.dropout_p = "keep", "drop" (torch's), or "docstring" (read from the course code's docstring, where
        it is stated; cs231n changed it in 2018)."""
        setting = self.options.get("dropout_p", "drop")
        if setting != "docstring":
            return setting == "keep", f"p is the {setting} probability (options.dropout_p)"
        doc = " ".join((inspect.getdoc(course) or "").split())
        said = re.search(r"\b(keep|drop|zero)\w*[^.]*?probability (of )?p\b|probability (of )?(keep|drop|zero)\w*",
                         doc, re.IGNORECASE)
        if said is None:
            fallback = self.options.get("dropout_p_default", "keep")
            return fallback == "keep", f"p is the {fallback} probability (the docstring does not say; default)"
        word = next(g for g in said.groups() if g and g.lower().startswith(("keep", "drop", "zero")))
        keeps = word.lower().startswith("keep")
        return keeps, f"p is the {'keep' if keeps else 'drop'} probability (its docstring: \"{said.group(0)}\")"

    def absent_from(self, defined: Callable[[str], bool]) -> list[str]:
        """The [optional] layers none of whose course names the submission defines (`defined(course name)`)."""
        return [layer for layer in self.optional if not any(map(defined, self.names.get(layer, (layer,))))]

    def without(self, layers: Iterable[str], unfilled: Iterable[str] = ()) -> Profile:
        """This profile with these [optional] layers not in the submission's template, and these [track] layers
        `unfilled` (left as the template's skeleton: a part of the course the student's track does not ask for), not
        graded."""
        return dataclasses.replace(self, absent={layer: self.optional[layer] for layer in layers if layer in self.optional},
                                   unfilled={layer: self.track[layer] for layer in unfilled if layer in self.track})

    def not_graded(self, layer: str, check: str) -> str | None:
        """Why this check is not part of what the course can be graded on, or None when it is."""
        if layer in self.absent:
            return (f"not graded in {self.name}: not in the submission's template (it defines no "
                    f"{self.course_name(layer)}; {self.absent[layer]})")
        if layer in self.unfilled:
            return (f"not graded in {self.name}: left as the template's skeleton (its "
                    f"{self.course_name(layer)}'s methods compute nothing; {self.unfilled[layer]})")
        if layer in self.unexpressible:
            return f"not expressible in {self.name} style: {self.unexpressible[layer]}"
        if layer in self.supplied:
            return f"not graded in {self.name}: course-supplied code ({self.supplied[layer]})"
        base = check.split(" (")[0]
        if not self.rules.backward and base not in FORWARD_CHECKS:
            cited = f"; evidence: {self.evidence['backward']}" if "backward" in self.evidence else ""
            return (f"not graded in {self.name}: the course's layers are forward only (rules.backward = false), and "
                    f"this check needs a backward or training{cited}")
        if f"{layer}: {base}" in self.unexpressible_checks:
            return f"not expressible in {self.name} style: {self.unexpressible_checks[f'{layer}: {base}']}"
        return None

    def beyond_in_eval(self, check: str) -> str | None:
        """Why a check that calls backward is beyond the course for a layer whose cases are in eval mode only
        (Dropout's deterministic checks: its training mode is random), or None."""
        if self.rules.backward_in_eval or self.rules.beyond == "score" or check.split(" (")[0] not in BACKWARD_CHECKS:
            return None
        cited = f"; evidence: {self.evidence['backward_in_eval']}" if "backward_in_eval" in self.evidence else ""
        return (f"{BEYOND} ({self.name}): the course never calls backward in eval mode (rules.backward_in_eval = "
                f"false), and this layer's checks here run in eval mode{cited}")

    def beyond(self, check: str) -> str | None:
        """Why a check is beyond what this course asks (it runs and is shown, for 0 points), citing the rule's
        evidence; None when the course asks for it, or when the profile scores such checks (rules.beyond)."""
        base = check.split(" (")[0]
        rules = self.rules
        why = {"gradients": rules.gradients == "overwrite" and "the course overwrites parameter gradients in each "
               "backward (rules.gradients = \"overwrite\"): they need not accumulate",
               "float32": not rules.float32 and "the course works in float64 (rules.float32 = false)",
               "value_bound": rules.value_bound is not None and f"the course's inputs stay within +-{rules.value_bound:g} "
               "(rules.value_bound): stability far beyond them is not asked for",
               "kinks": not rules.kinks and "the course's inputs never hit a kink or a tie exactly (rules.kinks = false)"}
        rule = next((key for key, checks in RULE_CHECKS.items() if base in checks and why[key]), None)
        if rule is None or rules.beyond == "score":
            return None
        cited = f"; evidence: {self.evidence[rule]}" if rule in self.evidence else ""
        return f"{BEYOND} ({self.name}): {why[rule]}{cited}"


def _fail(source: str, key: str, problem: str) -> ProfileError:
    return ProfileError(f"profile {source}: {key}: {problem}")


def _table(data: Any, source: str, key: str) -> dict:
    if not isinstance(data, dict):
        raise _fail(source, key, f"must be a table, got {type(data).__name__}")
    return data


def _strings(data: Any, source: str, key: str) -> dict[str, str]:
    table = _table(data, source, key)
    for name, value in table.items():
        if not isinstance(value, str):
            raise _fail(source, f"{key}.{name}", f"must be a string, got {value!r}")
    return dict(table)


def _names(data: Any, source: str, key: str, *, empty: bool = False) -> dict[str, tuple[str, ...]]:
    out = {}
    for name, value in _table(data, source, key).items():
        values = (value,) if isinstance(value, str) else value
        if not isinstance(values, list | tuple) or not (values or empty) or not all(isinstance(v, str) for v in values):
            raise _fail(source, f"{key}.{name}", f"must be a name or a list of names, got {value!r}")
        out[name] = tuple(values)
    return out


def _rules(data: Any, source: str) -> Rules:
    table = _table(data, source, "rules")
    unknown = sorted(set(table) - RULE_KEYS)
    if unknown:
        raise _fail(source, f"rules.{unknown[0]}", f"unknown rule (the rules are: {', '.join(sorted(RULE_KEYS))})")
    gradients = table.get("gradients", "accumulate")
    if gradients not in ("accumulate", "overwrite"):
        raise _fail(source, "rules.gradients", f"must be \"accumulate\" or \"overwrite\", got {gradients!r}")
    for key in ("float32", "backward", "backward_in_eval", "kinks"):
        if not isinstance(table.get(key, True), bool):
            raise _fail(source, f"rules.{key}", f"must be true or false, got {table[key]!r}")
    bound = table.get("value_bound")
    if bound is not None and not (isinstance(bound, int | float) and not isinstance(bound, bool) and bound > 0):
        raise _fail(source, "rules.value_bound", f"must be a positive number, got {bound!r}")
    if table.get("shapes", "exact") not in ("exact", "allclose"):
        raise _fail(source, "rules.shapes", f"must be \"exact\" or \"allclose\", got {table['shapes']!r}")
    if table.get("beyond", "show") not in ("show", "score"):
        raise _fail(source, "rules.beyond", f"must be \"show\" or \"score\", got {table['beyond']!r}")
    ranges = {}
    for layer, args in _table(table.get("ranges", {}), source, "rules.ranges").items():
        ranges[layer] = {}
        for arg, bounds in _table(args, source, f"rules.ranges.{layer}").items():
            if not (isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, int | float) for b in bounds)
                    and bounds[0] <= bounds[1]):
                raise _fail(source, f"rules.ranges.{layer}.{arg}", f"must be [low, high], got {bounds!r}")
            ranges[layer][arg] = (float(bounds[0]), float(bounds[1]))
    ranks = {}
    for layer, values in _table(table.get("ranks", {}), source, "rules.ranks").items():
        if not (isinstance(values, list) and values and all(isinstance(v, int) and 1 <= v <= 5 for v in values)):
            raise _fail(source, f"rules.ranks.{layer}", f"must be a list of input ranks (1 to 5), got {values!r}")
        ranks[layer] = tuple(values)
    spreads = {}
    for layer, value in _table(table.get("spreads", {}), source, "rules.spreads").items():
        if not (isinstance(value, int | float) and not isinstance(value, bool) and value > 0):
            raise _fail(source, f"rules.spreads.{layer}", f"must be a positive number, got {value!r}")
        spreads[layer] = float(value)
    zero_inputs = {}
    for layer, names in _table(table.get("zero_inputs", {}), source, "rules.zero_inputs").items():
        # The first input ("input") carries the batch and is never held at zero: only the further ones (a state).
        if not (isinstance(names, list) and names and all(isinstance(n, str) and n and n != "input" for n in names)):
            raise _fail(source, f"rules.zero_inputs.{layer}",
                        f"must be a list of the layer's further input names (not \"input\"), got {names!r}")
        zero_inputs[layer] = tuple(names)
    omitted = {}
    for layer, names in _table(table.get("omitted_gradients", {}), source, "rules.omitted_gradients").items():
        if not (isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)):
            raise _fail(source, f"rules.omitted_gradients.{layer}",
                        f"must be a list of the layer's input names (e.g. [\"input\"]), got {names!r}")
        omitted[layer] = tuple(names)
    return Rules(gradients, table.get("float32", True), table.get("backward", True), table.get("backward_in_eval", True),
                 None if bound is None else float(bound), table.get("kinks", True), table.get("beyond", "show"),
                 ranges, ranks, spreads, zero_inputs, omitted, table.get("shapes", "exact"))


def _evidence(data: Any, rules: Any, source: str) -> dict[str, str]:
    """[evidence]: for each rule the profile sets, the course's own text (its template or tests) that asks for it,
    cited so a reader can check it: "gradients", "ranks.Dropout", ... Every rule must have one."""
    evidence = _strings(data, source, "evidence")
    given = [key for key, value in _table(rules, source, "rules").items() if key != "beyond"
             for key in ([f"{key}.{name}" for name in value] if isinstance(value, dict) else [key])]
    missing = [key for key in given if key not in evidence and key.split(".")[0] not in evidence]
    if missing:
        raise _fail(source, f"evidence.{missing[0]}", "every rule cites its evidence: the course template's comment or "
                    "the course test that asks for it (e.g. \"homework_test_modules.ipynb: np.allclose on float32 "
                    "inputs\")")
    unknown = [key for key in evidence if key not in given and not any(g.startswith(key + ".") for g in given)]
    if unknown:
        raise _fail(source, f"evidence.{unknown[0]}", "cites no rule this profile sets")
    return evidence


def _sandbox(data: Any, source: str) -> Settings:
    table = _table(data, source, "sandbox")
    unknown = sorted(set(table) - SANDBOX_KEYS)
    if unknown:
        raise _fail(source, f"sandbox.{unknown[0]}", f"unknown key (the keys are: {', '.join(sorted(SANDBOX_KEYS))})")
    aliases = table.get("numpy_aliases", False)
    if not isinstance(aliases, bool):
        raise _fail(source, "sandbox.numpy_aliases", f"must be true or false, got {aliases!r}")
    allow = table.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(name, str) and name.isidentifier() for name in allow):
        raise _fail(source, "sandbox.allow", f"must be a list of packages' import names, got {allow!r}")
    refused = [why for why in map(refusal, allow) if why]
    if refused:
        raise _fail(source, "sandbox.allow", refused[0])
    return Settings(aliases, tuple(allow))


def _variants(data: Any, source: str) -> dict[str, dict[str, Variant]]:
    """[variants.<Layer>.<name>]: constructor (required), narrow, divisible_by, why."""
    out: dict[str, dict[str, Variant]] = {}
    for layer, named in _table(data, source, "variants").items():
        for name, table in _table(named, source, f"variants.{layer}").items():
            key = f"variants.{layer}.{name}"
            table = _table(table, source, key)
            unknown = sorted(set(table) - {"constructor", "narrow", "divisible_by", "why"})
            if unknown:
                raise _fail(source, f"{key}.{unknown[0]}", "unknown key (constructor, narrow, divisible_by, why)")
            takes = table.get("constructor")
            if not isinstance(takes, list) or not all(isinstance(arg, str) for arg in takes):
                raise _fail(source, f"{key}.constructor", f"required, a list of argument names, got {takes!r}")
            divisible = table.get("divisible_by")
            if divisible is not None and divisible not in takes:
                raise _fail(source, f"{key}.divisible_by", f"must be one of its constructor's arguments, got {divisible!r}")
            narrow = _narrow({layer: table.get("narrow", {})}, source).get(layer, {})
            out.setdefault(layer, {})[name] = Variant(tuple(takes), narrow, divisible, str(table.get("why", "")))
    return out


def _boolean(value: Any, source: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(source, key, f"must be true or false, got {value!r}")
    return value


def _narrow(data: Any, source: str) -> dict[str, dict[str, tuple[Any, ...]]]:
    out = {}
    for layer, args in _table(data, source, "narrow").items():
        out[layer] = {}
        for arg, values in _table(args, source, f"narrow.{layer}").items():
            if not isinstance(values, list) or not values:
                raise _fail(source, f"narrow.{layer}.{arg}", f"must be a non-empty list of values, got {values!r}")
            out[layer][arg] = tuple(values)
    return out


def parse(data: Mapping[str, Any], source: str) -> Profile:
    """A Profile from a TOML document's data; ProfileError naming the key when it is not one."""
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise _fail(source, unknown[0], f"unknown key (the keys are: {', '.join(sorted(KEYS))})")
    for key in ("name", "driver"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise _fail(source, key, "required, a non-empty string")
    detect = _names(data.get("detect", {}), source, "detect", empty=True)
    bad = sorted(set(detect) - {"classes", "functions", "methods"})
    if bad:
        raise _fail(source, f"detect.{bad[0]}", "unknown (detect by classes, functions or methods)")
    return Profile(
        name=data["name"], driver=data["driver"], source=source,
        signature=str(data.get("signature", "")), description=str(data.get("description", "")),
        auto=_boolean(data.get("auto", True), source, "auto"),
        detect=detect, names=_names(data.get("names", {}), source, "names"),
        constructors=_names(data.get("constructors", {}), source, "constructors", empty=True),
        methods=_strings(data.get("methods", {}), source, "methods"),
        options=dict(_table(data.get("options", {}), source, "options")),
        conventions=_strings(data.get("conventions", {}), source, "conventions"),
        unexpressible=_strings(data.get("unexpressible", {}), source, "unexpressible"),
        unexpressible_checks=_strings(data.get("unexpressible_checks", {}), source, "unexpressible_checks"),
        supplied=_strings(data.get("supplied", {}), source, "supplied"),
        optional=_strings(data.get("optional", {}), source, "optional"),
        track=_strings(data.get("track", {}), source, "track"),
        narrow=_narrow(data.get("narrow", {}), source), rules=_rules(data.get("rules", {}), source),
        sandbox=_sandbox(data.get("sandbox", {}), source),
        evidence=_evidence(data.get("evidence", {}), data.get("rules", {}), source),
        variants=_variants(data.get("variants", {}), source))


def _merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, table by table."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A profile file's data, with the profile it `extends` (a shipped profile's name, or a path relative to the
    file) merged underneath."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise ProfileError(f"profile {path}: cannot read it: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ProfileError(f"profile {path}: not valid TOML: {error}") from None
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise _fail(str(path), "extends", f"must be a shipped profile's name or a path, got {base!r}")
    shipped_file = SHIPPED_DIR / f"{base}.toml"
    base_path = shipped_file if shipped_file.is_file() else (path.parent / base).resolve()
    if base_path in seen or base_path == path.resolve():
        raise _fail(str(path), "extends", f"{base!r} extends itself")
    if not base_path.is_file():
        raise _fail(str(path), "extends", f"no shipped profile {base!r} (shipped: {', '.join(shipped_names())}) "
                                          f"and no file {base_path}")
    return _merged(_read(base_path, (*seen, path.resolve())), data)


def load(path: str | Path) -> Profile:
    """Read and validate a profile file."""
    return parse(_read(Path(path)), str(path))


def shipped_names() -> list[str]:
    return sorted(path.stem for path in SHIPPED_DIR.glob("*.toml"))


def shipped() -> dict[str, Profile]:
    """The profiles shipped with the harness, by name (each file is named after its profile)."""
    return {name: load(SHIPPED_DIR / f"{name}.toml") for name in shipped_names()}


def _as_pair(value: Any) -> Any:
    """An int or (h, w) argument as a pair, so 1 and (1, 1) compare equal."""
    return (value, value) if isinstance(value, int) and not isinstance(value, bool) else \
        tuple(value) if isinstance(value, list | tuple) else value


def resolve_argument(args: dict, arg: str, value: Any) -> Any:
    """A narrowed value: a literal, another argument's value ("kernel_size"), "same" padding (kernel // 2); None
    (MaxPool2d's stride) is the kernel's."""
    if value is None and arg == "stride":
        value = "kernel_size"
    if value == "same":
        kernel = args.get("kernel_size", 1)
        return kernel // 2 if isinstance(kernel, int) else tuple(k // 2 for k in kernel)
    if isinstance(value, str) and value in args:
        return args[value]
    return value
