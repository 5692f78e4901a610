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

from harness.sandbox.adapters.profile import Profile

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
}
KIND_BY_FILE = {"test_end_to_end.py": "end-to-end", "test_dropout.py": "statistical"}
IMPORT_FAILURE = "could not import the implementation"
NOT_GRADED = "not graded"  # a check's outcome when the profile does not grade it (not expressible, out of scope)
GRADE_OVER = ("expressible", "contract")  # the grade: over what the profile grades, or over the whole contract


def not_graded(profile: Profile, layer: str, check: str) -> str | None:
    """Why the course's profile does not grade this check (its style cannot express it, the course supplies the
    code, or the rule is not the course's), or None. Decided from the profile alone, never from the submission."""
    from harness.registry import SPECS
    from harness.training import MODEL_NEEDS

    model = layer.removesuffix(" end to end").lower()
    if layer.endswith(" end to end") and model in MODEL_NEEDS:
        for need in MODEL_NEEDS[model]:
            why = not_graded(profile, need, "")
            if why and not why.startswith(f"not graded in {profile.name}: course-supplied"):
                return f"{why} (the {layer} model needs {need})"
        return None
    if layer not in SPECS:
        return None
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


def _numbers(table: Any, where: str, path: Path, *, complete: bool) -> dict[str, float]:
    if not isinstance(table, dict):
        raise pytest.UsageError(f"--weights / NN_WEIGHTS: {path}: [{where}] must be a table of kind = points")
    unknown = sorted(set(table) - set(KINDS))
    if unknown:
        raise pytest.UsageError(f"--weights / NN_WEIGHTS: {path}: [{where}] has unknown kind(s) {', '.join(map(repr, unknown))}"
                                f" (the kinds are: {', '.join(KINDS)})")
    missing = [kind for kind in KINDS if kind not in table]
    if complete and missing:
        raise pytest.UsageError(f"--weights / NN_WEIGHTS: {path}: [{where}] gives no points for {', '.join(map(repr, missing))}")
    out = {}
    for kind, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
            raise pytest.UsageError(f"--weights / NN_WEIGHTS: {path}: [{where}] {kind} = {value!r}: "
                                    "points must be a number >= 0")
        out[kind] = float(value)
    return out


def load_weights(file: str | os.PathLike | None) -> Weights:
    """The weights table; pytest.UsageError naming the file and the problem when it is unusable."""
    path = Path(file) if file else DEFAULT_WEIGHTS
    try:
        data = tomllib.loads(path.read_text())
    except OSError as error:
        raise pytest.UsageError(f"--weights / NN_WEIGHTS: cannot read {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise pytest.UsageError(f"--weights / NN_WEIGHTS: {path} is not valid TOML: {error}") from None
    extra = sorted(set(data) - {"points", "layers"})
    if extra:
        raise pytest.UsageError(f"--weights / NN_WEIGHTS: {path}: unknown table(s) {', '.join(map(repr, extra))} "
                                "(expected [points] and optionally [layers.<name>])")
    if "points" not in data:
        raise pytest.UsageError(f"--weights / NN_WEIGHTS: {path}: no [points] table (points per kind of check)")
    points = _numbers(data["points"], "points", path, complete=True)
    layers_table = data.get("layers", {})
    if not isinstance(layers_table, dict):
        raise pytest.UsageError(f"--weights / NN_WEIGHTS: {path}: layers must be tables [layers.<name>]")
    layers = {name: _numbers(table, f"layers.{name}", path, complete=False) for name, table in layers_table.items()}
    return Weights(str(path), points, layers)


# ---------------------------------------------------------------------------------------------------- results

@dataclass
class Check:
    nodeid: str
    layer: str
    check: str
    kind: str
    outcome: str | None = None  # "passed" / "failed" / None (not reached)
    message: str = ""

    @property
    def name(self) -> str:
        return f"{self.layer}: {self.check}"


def _indent(text: str) -> str:
    return text if text.count("\n") < 60 else "\n".join(text.splitlines()[:60] + ["  ... (cut)"])


def totals(checks: list[Check], weights: Weights) -> dict[str, float]:
    """Points earned and possible over the checks the profile grades (expressible) and over the whole contract."""
    graded = [c for c in checks if c.outcome != NOT_GRADED]
    earned = sum(weights.of(c.layer, c.kind) for c in graded if c.outcome == "passed")
    return {"score": earned, "max_expressible": sum(weights.of(c.layer, c.kind) for c in graded),
            "max_contract": sum(weights.of(c.layer, c.kind) for c in checks)}


def results_json(checks: list[Check], weights: Weights, *, summary: list[str], elapsed: float,
                 not_run_reason: str, import_error: str | None, grade_over: str = "expressible") -> dict[str, Any]:
    tests = []
    for check in checks:
        points = weights.of(check.layer, check.kind)
        passed = check.outcome == "passed"
        if check.outcome == NOT_GRADED:
            tests.append({"name": check.name, "score": 0.0, "max_score": 0.0 if grade_over == "expressible" else points,
                          "output": check.message, "visibility": "visible", "tags": [check.layer, check.kind, NOT_GRADED]})
            continue
        if check.outcome is None:
            output = not_run_reason
        elif import_error and IMPORT_FAILURE in check.message:
            output = "failed: the implementation could not be imported (the error is shown once, at the top)"
        else:
            output = _indent(check.message) if not passed else ""
        tests.append({"name": check.name, "score": points if passed else 0.0, "max_score": points,
                      "status": "passed" if passed else "failed", "output": output, "visibility": "visible",
                      "tags": [check.layer, check.kind]})
    score = sum(t["score"] for t in tests)
    maximum = sum(t["max_score"] for t in tests)
    sums = totals(checks, weights)
    graded = [t for t in tests if "status" in t]
    head = [f"nn-harness: {score:g} / {maximum:g} points, {sum(t['status'] == 'passed' for t in graded)} of "
            f"{len(graded)} graded checks passed; {sums['score']:g} / {sums['max_expressible']:g} over what the "
            f"profile grades, {sums['score']:g} / {sums['max_contract']:g} over the whole contract "
            f"(the grade is over {'what the profile grades' if grade_over == 'expressible' else 'the whole contract'})",
            *summary]
    if import_error:
        head += ["", "The implementation could not be imported, so every check failed:", import_error]
    return {"score": score, "max_score": maximum, "execution_time": int(round(elapsed)),
            "output": "\n".join(head), "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"grade_over": grade_over, "score": sums["score"], "max_expressible": sums["max_expressible"],
                           "max_contract": sums["max_contract"]}}


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Atomically: a reader (or a run killed mid-write) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)
