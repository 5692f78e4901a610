"""The verdict per layer, as the terminal shows it at the end of a run (and the HTML report and results.json repeat)."""

from nn_harness.grading import points
from nn_harness.grading.points import Check, Weights


def table(checks: list[Check], weights: Weights, *, profile: str, grade_over: str,
          import_error: str | None) -> list[tuple[str, str]]:
    """The verdict per layer, line by line, each with its style: "passed", "failed", "total" or ""."""
    lines = []
    layers: dict[str, list[Check]] = {}
    for check in checks:
        layers.setdefault(check.layer, []).append(check)
    width = max([18, *map(len, layers)])
    missing = points.missing_layers(checks)
    for name, group in layers.items():
        graded = [c for c in group if c.outcome != points.NOT_GRADED]
        if not graded:
            lines.append((f"{name:<{width}} not graded: {group[0].message}", ""))
            continue
        if name in missing:
            worth = sum(weights.of(c.layer, c.kind) for c in graded)
            lines.append((f"{name:<{width}} {points.NOT_IMPLEMENTED:<19} {0:>5g} / {worth:<5g} points", "failed"))
            continue
        beyond = [c for c in graded if c.beyond]
        graded = [c for c in graded if not c.beyond]
        passed = [c for c in graded if c.outcome == "passed"]
        worth = sum(weights.of(c.layer, c.kind) for c in graded)
        got = sum(weights.of(c.layer, c.kind) for c in passed)
        failed = [c.check + (" (not run)" if c.outcome is None else "") for c in graded if c.outcome != "passed"]
        left_out = len(group) - len(graded) - len(beyond)
        line = f"{name:<{width}} {len(passed):>3} / {len(graded):<3} passed  {got:>5g} / {worth:<5g} points"
        line += f"  ({left_out} not graded)" if left_out else ""
        line += f"   FAILED: {'; '.join(failed)}" if failed else ""
        missed = [c.check for c in beyond if c.outcome != "passed"]
        line += f"   {points.BEYOND}, 0 points: {'; '.join(missed)} failed" if missed else ""
        lines.append((line, "failed" if failed else "passed"))
    sums = points.totals(checks, weights)
    graded = [c for c in checks if c.outcome != points.NOT_GRADED and not c.beyond]
    maximum = sums["max_expressible"] if grade_over == "expressible" else sums["max_contract"]
    score = sums["score"] if grade_over == "expressible" else sums["score_contract"]
    lines.append((f"{'TOTAL':<{width}} {sum(c.outcome == 'passed' for c in graded):>3} / "
                  f"{len(graded):<3} passed  {score:>5g} / {maximum:<5g} points", "total"))
    beyond = [c for c in checks if c.beyond and c.outcome != points.NOT_GRADED]
    if beyond:
        lines.append((f"{len(beyond)} checks are {points.BEYOND} (they run and are shown, for 0 points: the course's "
                      f"own tests do not ask for them; rules.beyond = \"score\" grades them): "
                      f"{sum(c.outcome == 'passed' for c in beyond)} passed", ""))
    if sums["max_expressible"] != sums["max_contract"]:
        not_graded = sum(c.outcome == points.NOT_GRADED for c in checks)
        lines.append((
            f"profile {profile}: {sums['score']:g} / {sums['max_expressible']:g} over what it grades "
            f"({not_graded} checks not graded: not expressible or course-supplied; {len(beyond)} {points.BEYOND}), "
            f"{sums['score_contract']:g} / {sums['max_contract']:g} over the whole contract; the grade "
            f"is over {'what it grades' if grade_over == 'expressible' else 'the whole contract'} "
            "(--grade-over)", ""))
    if import_error:
        lines.append((f"every check failed because the implementation could not be imported:\n"
                      f"{import_error}", "failed"))
    return lines
