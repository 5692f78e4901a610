"""Points and the Gradescope report: kinds of check, the weights table, and results.json.

Everything here runs in the controller (the process that never runs the submission under pytest-xdist) from
the test reports and from the list of collected checks the workers leave in the state folder.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nn_harness.sandbox.adapters.profile import Profile

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights.toml"
KINDS = ("forward", "backward", "finite differences", "contract", "statistical", "end-to-end")

# Test function -> kind; anything not listed is a contract check (end-to-end and Dropout files: by file).
KIND_BY_TEST = {
    "test_forward_matches_torch": "forward",
    "test_loss_matches_torch": "forward",
    "test_backward_matches_torch": "backward",
    "test_loss_gradient_matches_torch": "backward",
    "test_steps_match_torch": "backward",
    "test_backward_matches_finite_differences": "finite differences",
    "test_loss_gradient_matches_finite_differences": "finite differences",
    # Sequence layers: torch's gradients (and output) with the upstream gradient on one path through time.
    "test_one_step_sequence": "backward",
    "test_gradient_only_at_last_step": "backward",
    "test_gradient_only_at_first_step": "backward",
    "test_long_saturating_sequence": "backward",
}
KIND_BY_FILE = {"test_end_to_end.py": "end-to-end", "test_dropout.py": "statistical"}
IMPORT_FAILURE = "could not import the implementation"
NOT_GRADED = "not graded"  # a check's outcome when the profile does not grade it (not expressible, out of scope)
NOT_IMPLEMENTED = "not implemented"  # a user property of a check whose layer the submission does not define
BEYOND = "beyond the course"  # a check the course does not ask for: run, shown, worth 0 (adapters/profile.py)
GRADE_OVER = ("expressible", "contract")  # the grade: over what the profile grades, or over the whole contract


# Checks of one layer that build others too (tests/test_contract.py): not graded where the profile does not grade
# one of those (the course has no such layer), as an end-to-end model is not.
CHECK_NEEDS = {"sequential propagates mode": ("Dropout", "Linear"),
               "sequential backward keeps the dropout mask": ("Dropout",),
               "sequential backward updates running statistics once": ("BatchNorm1d",)}


def beyond(profile: Profile, layer: str, check: str, grade_over: str) -> str | None:
    """Why a check is beyond what the course asks (it runs and is shown, worth 0 points), or None: never when the
    grade is over the whole contract, where every check counts."""
    from nn_harness.cases.registry import SPECS

    if grade_over == "contract" or layer not in SPECS:
        return None
    modes = getattr(SPECS[layer], "modes", ())
    if modes and "train" not in modes:  # no training-mode case to narrow to (Dropout's deterministic checks)
        why = profile.beyond_in_eval(check)
        if why:
            return why
    return profile.beyond(check)


def worth(check: Check, weights: Weights) -> float:
    """What a check is worth: its weight, or nothing when it is beyond the course."""
    return 0.0 if check.beyond else weights.of(check.layer, check.kind)


def not_graded(profile: Profile, layer: str, check: str) -> str | None:
    """Why the course's profile does not grade this check (its style cannot express it, the course supplies the
    code, or the rule is not the course's), or None. Decided from the profile alone, never from the submission."""
    from nn_harness.cases.registry import SPECS
    from nn_harness.training.recipes import MODEL_NEEDS

    model = layer.removesuffix(" end to end").lower()
    if layer.endswith(" end to end") and model in MODEL_NEEDS:
        for need in MODEL_NEEDS[model]:
            why = not_graded(profile, need, "")
            if why and not why.startswith(f"not graded in {profile.name}: course-supplied"):
                return f"{why} (the {layer} model needs {need})"
        return None
    if layer not in SPECS:
        return None
    for need in CHECK_NEEDS.get(check, ()):
        why = not_graded(profile, need, "")
        if why and not why.startswith(f"not graded in {profile.name}: course-supplied"):
            return f"{why} (the check {check!r} needs {need})"
    if profile.driver != "native" and layer not in profile.names and layer not in profile.unexpressible \
            and layer not in profile.supplied:
        return f"not expressible in {profile.name} style: the profile maps no course code to {layer}"
    return profile.not_graded(layer, check)


def kind_of(item: pytest.Item) -> str:
    props = dict(item.user_properties)
    if props.get("kind") in KINDS:
        return props["kind"]
    by_file = KIND_BY_FILE.get(Path(str(item.path)).name)
    if by_file:
        return by_file
    return KIND_BY_TEST.get(getattr(item, "originalname", item.name), "contract")


# ---------------------------------------------------------------------------------------------------- weights

@dataclass(frozen=True)
class Weights:
    source: str
    points: dict[str, float]
    layers: dict[str, dict[str, float]] = field(default_factory=dict)

    def of(self, layer: str, kind: str) -> float:
        return self.layers.get(layer, {}).get(kind, self.points.get(kind, 0.0))


WEIGHTS_OPTION = "--weights / NN_WEIGHTS"


def layer_names() -> list[str]:
    """What a [layers.<name>] table, an assignment's `layers` or its [visibility] may name: the registry's layers,
    the end-to-end models (as the report names them) and the submission as a whole ("Submission")."""
    from nn_harness.cases.registry import SPECS
    from nn_harness.training.recipes import MODEL_NEEDS

    return [*SPECS, *(f"{model.upper()} end to end" for model in MODEL_NEEDS), "Submission"]


def _numbers(table: Any, where: str, source: str, *, complete: bool) -> dict[str, float]:
    if not isinstance(table, dict):
        raise pytest.UsageError(f"{source}: [{where}] must be a table of kind = points")
    unknown = sorted(set(table) - set(KINDS))
    if unknown:
        raise pytest.UsageError(f"{source}: [{where}] has unknown kind(s) {', '.join(map(repr, unknown))}"
                                f" (the kinds are: {', '.join(KINDS)})")
    missing = [kind for kind in KINDS if kind not in table]
    if complete and missing:
        raise pytest.UsageError(f"{source}: [{where}] gives no points for {', '.join(map(repr, missing))}")
    out = {}
    for kind, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
            raise pytest.UsageError(f"{source}: [{where}] {kind} = {value!r}: points must be a number >= 0")
        out[kind] = float(value)
    return out


def weights_from(data: dict[str, Any], source: str, name: str, *, default: Weights | None = None) -> Weights:
    """The points of a parsed table's [points] and [layers.<name>] (a weights file, or an assignment file: then
    without [points] the `default` points apply). `source` starts every error (the option and the file); `name`
    is the table's source as the report gives it."""
    if "points" not in data and default is None:
        raise pytest.UsageError(f"{source}: no [points] table (points per kind of check)")
    points = _numbers(data["points"], "points", source, complete=True) if "points" in data else default.points
    layers_table = data.get("layers", {})
    if not isinstance(layers_table, dict) or not all(isinstance(t, dict) for t in layers_table.values()):
        raise pytest.UsageError(f"{source}: layers must be tables [layers.<name>] of kind = points")
    known = layer_names()
    unknown = sorted(set(layers_table) - set(known))
    if unknown:
        raise pytest.UsageError(f"{source}: [layers.{unknown[0]}]: no layer or end-to-end model is called "
                                f"{unknown[0]!r} (one of: {', '.join(known)})")
    layers = {name: _numbers(table, f"layers.{name}", source, complete=False) for name, table in layers_table.items()}
    return Weights(name, points, layers)


def read_toml(path: Path, option: str) -> dict[str, Any]:
    """A TOML file's table; pytest.UsageError naming the option and the file when it cannot be read or parsed."""
    try:
        return tomllib.loads(path.read_text())
    except OSError as error:
        raise pytest.UsageError(f"{option}: cannot read {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise pytest.UsageError(f"{option}: {path} is not valid TOML: {error}") from None


def load_weights(file: str | os.PathLike | None) -> Weights:
    """The weights table; pytest.UsageError naming the file and the problem when it is unusable."""
    path = Path(file) if file else DEFAULT_WEIGHTS
    data = read_toml(path, WEIGHTS_OPTION)
    extra = sorted(set(data) - {"points", "layers"})
    if extra:
        raise pytest.UsageError(f"{WEIGHTS_OPTION}: {path}: unknown table(s) {', '.join(map(repr, extra))} "
                                "(expected [points] and optionally [layers.<name>])")
    return weights_from(data, f"{WEIGHTS_OPTION}: {path}", str(path))


# ---------------------------------------------------------------------------------------------------- results

@dataclass
class Check:
    nodeid: str
    layer: str
    check: str
    kind: str
    outcome: str | None = None  # "passed" / "failed" / None (not reached)
    message: str = ""
    missing: bool = False  # failed because the submission does not define the check's layer
    beyond: str = ""  # why the course does not ask for it (it is worth 0 points), or ""

    @property
    def name(self) -> str:
        return f"{self.layer}: {self.check}"


def missing_layers(checks: list[Check]) -> dict[str, list[Check]]:
    """The layers the submission does not define (every graded check of theirs failed so): each is one line of the
    report, not a failure per check."""
    layers: dict[str, list[Check]] = {}
    for check in checks:
        if check.outcome != NOT_GRADED:
            layers.setdefault(check.layer, []).append(check)
    return {layer: group for layer, group in layers.items() if all(c.missing for c in group)}


def _indent(text: str) -> str:
    return text if text.count("\n") < 60 else "\n".join(text.splitlines()[:60] + ["  ... (cut)"])


def totals(checks: list[Check], weights: Weights) -> dict[str, float]:
    """Points earned and possible over the checks the profile grades (expressible: a check beyond the course is worth
    nothing) and over the whole contract (every check at its weight)."""
    graded = [c for c in checks if c.outcome != NOT_GRADED]
    earned = sum(worth(c, weights) for c in graded if c.outcome == "passed")
    beyond = sum(weights.of(c.layer, c.kind) for c in graded if c.beyond and c.outcome == "passed")
    return {"score": earned, "max_expressible": sum(worth(c, weights) for c in graded),
            "score_contract": earned + beyond, "max_contract": sum(weights.of(c.layer, c.kind) for c in checks)}


VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # Gradescope's
ZERO_POINTS = "zero_points"  # the [visibility] key for the checks worth 0 points (nn_harness/grading/assignment.py)


def visibility_of(check: Check, points: float, table: dict[str, str]) -> str:
    """A check's Gradescope visibility. Worth 0 points (a 0 weight, not graded, beyond the course): the table's
    zero_points when given; else hidden, except that a check beyond the course is shown as its layer's checks
    are. Otherwise its layer's entry of the assignment's [visibility], else its kind's, else the table's default
    (visible)."""
    if (points == 0 or check.beyond) and ZERO_POINTS in table:
        return table[ZERO_POINTS]
    if points == 0:
        return "hidden"
    return table.get(check.layer) or table.get(check.kind) or table.get("default", "visible")


def order_key(check: Check) -> tuple:
    """The report's order: layers in the registry's order, then the other layers by name (the end-to-end models,
    "Submission"), each layer's checks by name, the node id breaking ties. The same on every run, whatever the
    order the checks completed in (-n N)."""
    from nn_harness.cases.registry import SPECS

    rank = list(SPECS).index(check.layer) if check.layer in SPECS else len(SPECS)
    return rank, check.layer, check.check, check.nodeid


def results_json(checks: list[Check], weights: Weights, *, summary: list[str], elapsed: float,
                 not_run_reason: str, import_error: str | None, grade_over: str = "expressible",
                 visibility: dict[str, str] | None = None, assignment: str | None = None) -> dict[str, Any]:
    """Gradescope's results.json: one test per check, in `order_key` order (a layer the submission does not define:
    one test, worth all its checks); `visibility` is the assignment's [visibility] table (its "default" is also the
    top level's)."""
    visibility = visibility or {}
    tests = []
    missing, shown = missing_layers(checks), set()
    for check in sorted(checks, key=order_key):
        points = weights.of(check.layer, check.kind)
        passed = check.outcome == "passed"
        if check.outcome == NOT_GRADED:
            worth = 0.0 if grade_over == "expressible" else points
            tests.append({"name": check.name, "score": 0.0, "max_score": worth, "output": check.message,
                          "visibility": visibility_of(check, worth, visibility),
                          "tags": [check.layer, check.kind, NOT_GRADED]})
            continue
        if check.layer in missing:  # one line for the layer, worth all its checks
            if check.layer not in shown:
                shown.add(check.layer)
                worth = sum(weights.of(c.layer, c.kind) for c in missing[check.layer])
                tests.append({"name": f"{check.layer}: {NOT_IMPLEMENTED}", "score": 0.0, "max_score": worth,
                              "status": "failed", "output": _missing_line(check),
                              "visibility": visibility_of(check, worth, visibility),
                              "tags": [check.layer, NOT_IMPLEMENTED]})
            continue
        if check.beyond:  # shown as any check, worth nothing; visible as its layer's checks are
            output = check.beyond + ("" if passed or check.outcome is None else "\n" + _indent(check.message))
            tests.append({"name": check.name, "score": 0.0, "max_score": 0.0,
                          "status": "passed" if passed else "failed", "output": output,
                          "visibility": visibility_of(check, points, visibility),
                          "tags": [check.layer, check.kind, BEYOND]})
            continue
        if check.outcome is None:
            output = not_run_reason
        elif import_error and IMPORT_FAILURE in check.message:
            output = "failed: the implementation could not be imported (the error is shown once, at the top)"
        else:
            output = _indent(check.message) if not passed else ""
        tests.append({"name": check.name, "score": points if passed else 0.0, "max_score": points,
                      "status": "passed" if passed else "failed", "output": output,
                      "visibility": visibility_of(check, points, visibility), "tags": [check.layer, check.kind]})
    score = sum(t["score"] for t in tests)
    maximum = sum(t["max_score"] for t in tests)
    sums = totals(checks, weights)
    graded = [t for t in tests if "status" in t and BEYOND not in t["tags"]]
    head = [f"nn-harness: {score:g} / {maximum:g} points, {sum(t['status'] == 'passed' for t in graded)} of "
            f"{len(graded)} graded checks passed; {sums['score']:g} / {sums['max_expressible']:g} over what the "
            f"profile grades, {sums['score_contract']:g} / {sums['max_contract']:g} over the whole contract "
            f"(the grade is over {'what the profile grades' if grade_over == 'expressible' else 'the whole contract'})",
            *summary]
    if import_error:
        head += ["", "The implementation could not be imported, so every check failed:", import_error]
    extra = {"grade_over": grade_over, "score": sums["score"], "max_expressible": sums["max_expressible"],
             "score_contract": sums["score_contract"], "max_contract": sums["max_contract"],
             "beyond_the_course": [t["name"] for t in tests if BEYOND in t["tags"] and t["status"] == "failed"]}
    if assignment is not None:
        extra["assignment"] = assignment
    return {"score": score, "max_score": maximum, "execution_time": int(round(elapsed)),
            "output": "\n".join(head), "visibility": visibility.get("default", "visible"), "stdout_visibility": "hidden",
            "tests": tests, "extra_data": extra}


def _missing_line(check: Check) -> str:
    """What a missing layer's line says: the reason its checks gave (which name the submission lacks, and why)."""
    lines = [line.strip() for line in check.message.splitlines() if NOT_IMPLEMENTED in line or line.startswith("  ")]
    return " ".join(lines) or f"{check.layer}: {NOT_IMPLEMENTED}"


def shown_name(target: str) -> str:
    """The submission as the student named it, for what students see (results.json, failure messages): its file or
    folder name, never where it lies on the grading machine; a module name as given."""
    path = Path(target)
    return path.resolve().name if path.exists() else target


def public(text: str, target: str) -> str:
    """`text` with the submission's folder on the grading machine left out (its files as the student names them)."""
    from nn_harness.sandbox.client import submission_source

    source = submission_source(target)
    return text.replace(str(source.parent) + os.sep, "") if source is not None else text


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Atomically: a reader (or a run killed mid-write) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
