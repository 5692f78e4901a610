"""How many cases each check needs: the kill curve of every check over the mutant bank, and the counts it implies.

    python -m bench.kill_curve [--jobs 2] [--reference 300] [--write]

1. Each mutant (tests/meta/mutants.py) runs its layer's checks drawing `--reference` cases each (derandomized, as a
   class is graded): the checks that fail are the ones that kill it.
2. For each rung of the ladder (3, 4, 6, 8, ...) the killing checks run again drawing that many cases, until every
   mutant a check kills with the reference count is killed with the rung's: that rung is what the check needs.
3. Its count is twice that, and at least 3, and at most the grading profile's max_examples (25): a kill that needs
   more cases is luck, not what the check is for (it is listed, with the mutant, for a better strategy). A check that
   kills no mutant draws 3. hypothesis draws another sequence for another count (the first tenth of a run is small
   cases), so each mutant's killing checks run once more with the counts: a check that lets one survive takes the
   next rung that kills them all.

Prints per check: the mutants it kills, what it needed, its count, then the run's totals; `--write` writes the counts
to nn_harness/cases/examples.toml, which the grading profile draws (nn_harness/cases/profiles.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nn_harness.cases.profiles import MEASURED, PROFILES  # noqa: E402
from tests.meta.mutants import MUTANTS, Mutant  # noqa: E402

LADDER = (3, 4, 6, 8, 12, 16, 20, 25)
MOST = PROFILES["grading"]["max_examples"]  # a check never draws more in the grading profile
Kill = tuple[str, str]  # (mutant, node id)


def apply(mutant: Mutant, into: Path) -> Path:
    """A copy of impl/ with the mutant's edits (the bank's own rule: an edit that no longer applies is an error)."""
    from tests.meta.test_banks import apply as bank_apply
    return bank_apply(mutant, into)


def run(impl: Path, select: list[str], examples: str, scratch: Path) -> list[dict]:
    """The checks `select` names (node ids, or `-m LAYER`) on `impl`, drawing `examples`: one dict per check with its
    node id, check name, layer, outcome and the first failing example."""
    junit = scratch / f"junit-{time.monotonic_ns()}.xml"
    command = [sys.executable, "-m", "pytest", *select, "--rootdir", str(ROOT), "-p", "no:cacheprovider",
               "-p", "no:xdist", "-q", "--impl", str(impl), "--profile", "grading", "--examples", examples,
               "--junitxml", str(junit)]
    if not any(arg.startswith("tests/") for arg in select):
        command[3:3] = ["tests", "--ignore", "tests/meta"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_") and k != "MNIST_DIR"}
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    found = []
    for case in ET.parse(junit).iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "examples drawn" not in props:  # not drawn by hypothesis (statistical, end to end): no count to measure
            continue
        nodeid = f"{case.get('classname').replace('.', '/')}.py::{case.get('name')}"
        found.append({"nodeid": nodeid, "check": props.get("check", ""), "layer": props.get("layer", ""),
                      "failed": case.find("failure") is not None or case.find("error") is not None,
                      "first": int(props.get("first failing example", 0))})
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reference", type=int, default=300)
    parser.add_argument("--mutant", action="append", help="only these mutants (by name; for a quick look)")
    parser.add_argument("--write", action="store_true", help=f"write the counts to {MEASURED.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if not args.mutant or m.name in args.mutant]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(args.jobs) as pool:
        scratch = Path(folder)
        copies = {m.name: apply(m, scratch) for m in mutants}

        # 1. what kills each mutant with the reference count
        def reference(mutant: Mutant) -> list[dict]:
            return [r for r in run(copies[mutant.name], ["-m", mutant.layer], str(args.reference), scratch)
                    if r["layer"] == mutant.layer]
        kills: dict[str, dict[Kill, int]] = {}  # check -> (mutant, node id) -> first failing example
        checks: set[str] = set()  # every check drawn by hypothesis that ran
        for mutant, found in zip(mutants, pool.map(reference, mutants)):
            for r in found:
                checks.add(r["check"])
                if r["failed"]:
                    kills.setdefault(r["check"], {})[(mutant.name, r["nodeid"])] = r["first"]
        print(f"reference: {len(mutants)} mutants, {args.reference} cases per check, "
              f"{sum(map(len, kills.values()))} kills by {len(kills)} checks ({time.monotonic() - started:.0f} s)",
              flush=True)

        def killed_with(pairs: set[Kill], examples: dict[str, int] | int) -> set[Kill]:
            """The pairs whose check kills its mutant drawing `examples` (one count, or one per check)."""
            by_mutant: dict[str, list[str]] = {}
            for mutant, nodeid in pairs:
                by_mutant.setdefault(mutant, []).append(nodeid)
            if isinstance(examples, dict):
                table = scratch / f"counts-{time.monotonic_ns()}.toml"
                table.write_text("[examples]\n" + "".join(f'"{c}" = {n}\n' for c, n in examples.items()))
                drawn = str(table)
            else:
                drawn = str(examples)
            results = pool.map(lambda item: run(copies[item[0]], sorted(item[1]), drawn, scratch), by_mutant.items())
            return {(mutant, r["nodeid"]) for mutant, found in zip(by_mutant, results) for r in found if r["failed"]}

        # 2. the ladder: the first rung at which each check kills all its mutants
        needed: dict[str, int] = {}
        history: dict[int, set[Kill]] = {}  # rung -> the pending kills made with it
        for rung in (n for n in LADDER if n <= MOST):
            pending = {pair for check, pairs in kills.items() if check not in needed for pair in pairs}
            if not pending:
                break
            history[rung] = killed = killed_with(pending, rung)
            for check, pairs in kills.items():
                if check not in needed and set(pairs) <= killed:
                    needed[check] = rung
            print(f"  rung {rung:>3}: {len(killed)} of {len(pending)} pending kills; resolved "
                  f"{', '.join(c for c, n in needed.items() if n == rung) or '-'}", flush=True)
        lucky = {}  # check -> the kills it makes with the reference count but never with at most MOST cases
        for check in kills:
            if check not in needed:
                ever = set().union(*history.values())
                lucky[check] = sorted(set(kills[check]) - ever)
                reliable = set(kills[check]) - set(lucky[check])
                needed[check] = next((rung for rung, made in history.items() if reliable <= made), MOST)

        # 3. the counts, verified as they will be drawn
        counts = {check: min(max(3, 2 * needed[check]), MOST) for check in kills}
        counts.update({check: 3 for check in checks - set(kills)})
        reliable = {check: {pair for pair in pairs if pair not in lucky.get(check, ())} for check, pairs in kills.items()}
        for _ in range(len(LADDER)):
            everything = {pair for pairs in reliable.values() for pair in pairs}
            survived = everything - killed_with(everything, counts)
            if not survived:
                break
            for check, pairs in reliable.items():
                if pairs & survived:
                    bigger = [n for n in LADDER if counts[check] < n <= MOST] or [MOST]
                    print(f"  {check}: {len(pairs & survived)} survived {counts[check]} cases; now {bigger[0]}")
                    counts[check] = bigger[0]
        else:
            print("  the counts did not settle: written as they are")

    print(f"\n{'check':<45} {'mutants':>7} {'needed':>6} {'count':>5} {'latest first failure at ' + str(args.reference):>28}")
    for check in sorted(counts, key=lambda c: (-counts[c], c)):
        found = kills.get(check, {})
        print(f"{check:<45} {len(found):>7} {needed.get(check, 0):>6} {counts[check]:>5} "
              f"{max(found.values(), default=0):>28}")
    for check, pairs in lucky.items():
        print(f"{check}: killed only with more than {MOST} cases: {', '.join(mutant for mutant, _ in pairs)}")
    print(f"\n{len(counts)} checks in {time.monotonic() - started:.0f} s")
    if args.write:
        write(counts, needed, kills, lucky, args.reference, len(mutants))
        print(f"written: {MEASURED.relative_to(ROOT)}")
    return 0


def write(counts: dict[str, int], needed: dict[str, int], kills: dict[str, dict[Kill, int]],
          lucky: dict[str, list[Kill]], reference: int, mutants: int) -> None:
    def why(check: str) -> str:
        if check not in kills:
            return "kills no mutant"
        made = f"needed {needed[check]}, kills {len(kills[check])}"
        if check in lucky:
            return f"{made}; {', '.join(m for m, _ in lucky[check])} only with more than {MOST} cases"
        return made

    MEASURED.write_text(
        "# Cases each check draws in the grading profile (nn_harness/cases/profiles.py): twice the cases it needed to\n"
        f"# kill every mutant it kills with {reference}, at least 3, at most {MOST}; 3 for a check that kills none;\n"
        f"# verified as drawn. Written by `python -m bench.kill_curve --write` on {date.today()} ({mutants} mutants).\n"
        "[examples]\n" + "".join(f'"{check}" = {counts[check]}  # {why(check)}\n' for check in sorted(counts)))


if __name__ == "__main__":
    sys.exit(main())
