"""How many checks one bug fails: on the buggy examples (one bug per layer) and on the mutant bank (one bug each).

    python -m bench.failures_per_bug [--jobs 2] [--examples-only | --mutants-only] [--layer LAYER]

One bug should fail the checks that look at what it breaks and no others (docs/contract.md): a forward bug fails
forward against torch and finite differences, a backward bug backward against torch and finite differences; the
contract checks (accumulate, stale cache, float32) compare the implementation with its own results, so a wrong value
does not echo there. Prints, per bug, the failed checks of the bug's own layer, then the distribution. The harness is
the one installed for this interpreter (run from any folder); the grading profile, as a class is graded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.meta.mutants import MUTANTS  # noqa: E402

EXAMPLES = ROOT / "examples"
CHAINED = ("Sequential", "Submission")  # layers that chain others: a bug shows there too, by design
MISSING = ("not implemented", "does not define", "not graded")
BEYOND = "beyond the course"  # results.json's tag of a check worth 0 under the course's rules (grading/points.py)
BROKEN = ("could not import the implementation", "did not return within", "timed out")  # not the bug: the run


def profile_of(folder: Path) -> str:
    """The course profile an example folder is written for: its name without `_buggy`, dashed as shipped."""
    style = folder.name.removesuffix("_buggy")
    return style if style in ("native", "practical_dl", "practical_dl_snake", "cs231n", "torch7") else \
        style.replace("_", "-")


def graded(target: Path, api: str, layer: str | None, scratch: Path) -> list[dict]:
    """The results.json tests of one run of the suite on `target` (only `layer`'s checks when given)."""
    results = scratch / "results.json"
    command = [sys.executable, "-m", "nn_harness", "--impl", str(target), "--api", api, "--profile", "grading",
               "-n", "0", "--grade-json", str(results), "-p", "no:cacheprovider", *(["-m", layer] if layer else [])]
    subprocess.run(command, capture_output=True, text=True, cwd=scratch, timeout=1800)
    return json.loads(results.read_text())["tests"] if results.exists() else []


def failed_by_layer(tests: list[dict], own: str | None = None) -> dict[str, list[str]]:
    """Failed checks per layer, without chained layers (but `own`, the bug's layer, when it is one), end-to-end
    models, layers that are simply missing, and checks beyond the course (worth 0 under a course profile: its
    template's conventions, not a bug)."""
    found: dict[str, list[str]] = {}
    broken = [test["name"] for test in tests if any(word in test.get("output", "") for word in BROKEN)]
    if broken:  # a loaded machine or a broken run says nothing about how many checks a bug fails
        raise RuntimeError(f"{len(broken)} checks could not run (import failed or timed out), e.g. {broken[0]}")
    for test in tests:
        layer, _, check = test["name"].partition(": ")
        if test.get("status") == "failed" and (layer not in CHAINED or layer == own) and "end to end" not in layer \
                and BEYOND not in test.get("tags", ()) and not any(word in test.get("output", "") for word in MISSING):
            found.setdefault(layer, []).append(check)
    return found


def example_bugs() -> list[tuple[str, list[str]]]:
    rows = []
    for folder in sorted(EXAMPLES.glob("*_buggy")):
        # Its one module (layers.py, modules.py), or the folder itself where it is a package of several.
        files = [p for p in sorted(folder.iterdir()) if p.suffix == ".py" and p.name != "__init__.py"]
        target = files[0] if len(files) == 1 else folder
        with tempfile.TemporaryDirectory() as scratch:
            for layer, checks in failed_by_layer(graded(target, profile_of(folder), None, Path(scratch))).items():
                rows.append((f"{folder.name} {layer}", checks))
    return rows


def mutant_bug(mutant) -> tuple[str, list[str]]:
    with tempfile.TemporaryDirectory() as scratch:
        impl = Path(scratch) / "impl"
        shutil.copytree(ROOT / "impl", impl, ignore=shutil.ignore_patterns("__pycache__"))
        for file, old, new in mutant.edits:
            path = impl / file
            if old is None:
                shutil.copy(ROOT / "tests" / "meta" / "correct_variants" / new, path)
            else:
                path.write_text(path.read_text().replace(old, new))
        failed = failed_by_layer(graded(impl, "native", mutant.layer, Path(scratch)), own=mutant.layer)
        return f"mutant {mutant.name} ({mutant.layer})", failed.get(mutant.layer, [])


def summary(title: str, rows: list[tuple[str, list[str]]]) -> None:
    print(f"\n## {title}: {len(rows)} bugs\n")
    for name, checks in rows:
        print(f"{len(checks):>2}  {name}: {'; '.join(checks) or '(none failed)'}")
    counts = [len(checks) for _, checks in rows]
    if counts:
        spread = ", ".join(f"{k}: {v}" for k, v in sorted(Counter(counts).items()))
        print(f"\nfailed checks per bug: median {statistics.median(counts):g}, max {max(counts)}; "
              f"bugs by count: {spread}; at most 2: {sum(c <= 2 for c in counts)} of {len(counts)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--examples-only", action="store_true")
    group.add_argument("--mutants-only", action="store_true")
    parser.add_argument("--layer", help="only the mutants of this layer (e.g. Sequential)")
    args = parser.parse_args(argv)
    if not args.mutants_only:
        summary("buggy examples (one bug per layer)", example_bugs())
    if not args.examples_only:
        with ThreadPoolExecutor(args.jobs) as pool:
            mutants = [m for m in MUTANTS if args.layer in (None, m.layer)]
            summary("mutant bank (one bug each)", list(pool.map(mutant_bug, mutants)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
