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
        passed = [c for c in graded if c.outcome == "passed"]
        worth = sum(weights.of(c.layer, c.kind) for c in graded)
        got = sum(weights.of(c.layer, c.kind) for c in passed)
        failed = [c.check + (" (not run)" if c.outcome is None else "") for c in graded if c.outcome != "passed"]
        left_out = len(group) - len(graded)
        line = f"{name:<{width}} {len(passed):>3} / {len(graded):<3} passed  {got:>5g} / {worth:<5g} points"
        line += f"  ({left_out} not graded)" if left_out else ""
        lines.append((line + (f"   FAILED: {'; '.join(failed)}" if failed else ""), "failed" if failed else "passed"))
    sums = points.totals(checks, weights)
    graded = [c for c in checks if c.outcome != points.NOT_GRADED]
    maximum = sums["max_expressible"] if grade_over == "expressible" else sums["max_contract"]
    lines.append((f"{'TOTAL':<{width}} {sum(c.outcome == 'passed' for c in graded):>3} / "
                  f"{len(graded):<3} passed  {sums['score']:>5g} / {maximum:<5g} points", "total"))
    if sums["max_expressible"] != sums["max_contract"]:
        lines.append((
            f"profile {profile}: {sums['score']:g} / {sums['max_expressible']:g} over what it grades "
            f"({len(checks) - len(graded)} checks not graded: not expressible, course-supplied or not in the "
            f"course's rules), {sums['score']:g} / {sums['max_contract']:g} over the whole contract; the grade "
            f"is over {'what it grades' if grade_over == 'expressible' else 'the whole contract'} "
            "(--grade-over)", ""))
    if import_error:
        lines.append((f"every check failed because the implementation could not be imported:\n"
                      f"{import_error}", "failed"))
    return lines
