"""Does the suite catch real mistakes, and only those? Each bank member runs through the suite in a subprocess
with the grading profile: every mutant must fail a check of its own layer, every correct variant pass them all."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.meta.correct import CORRECT
from tests.meta.mutants import MUTANTS, Mutant

pytestmark = pytest.mark.slow  # runs the suite in subprocesses: CI runs these with -m slow

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = Path(__file__).resolve().parent / "correct_variants"


def apply(mutant: Mutant, destination: Path) -> Path:
    folder = destination / mutant.name
    shutil.copytree(ROOT / "impl", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for file, old, new in mutant.edits:
        path = folder / file
        if old is None:
            shutil.copy(VARIANTS / new, path)
            continue
        text = path.read_text()
        if text.count(old) != 1:
            pytest.fail(f"mutant {mutant.name} no longer applies: {old!r} occurs {text.count(old)} times in impl/{file}")
        path.write_text(text.replace(old, new))
    return folder


def run_suite(impl: Path, layer: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"),
               "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-x", "-m", layer,
               "--impl", str(impl), "--profile", "grading"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_")}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


# Mutants the grading profile's measured counts do not kill (bench/kill_curve.py), with why: open, for the strategies.
UNREACHED = {
    "softplus_threshold_on_input": "it differs from torch only where threshold < x < threshold / beta and beta x is "
    "small (or the mirror for beta > 1), which Softplus's value strategy reaches in about 1 case of 20: forward and "
    "finite differences kill it with 100 cases (at case 49), 'stable for large inputs' with 300 (case 165), no check "
    "with the 12 (6 for contract checks) the kill curve measured; the 10-case contract draws of the old profile "
    "killed it by chance",
}


@pytest.mark.parametrize("mutant", [pytest.param(m, marks=pytest.mark.xfail(reason=UNREACHED[m.name], strict=True))
                                    if m.name in UNREACHED else m for m in MUTANTS], ids=lambda m: m.name)
def test_mutant_is_killed(mutant, tmp_path):
    result = run_suite(apply(mutant, tmp_path), mutant.layer)
    assert result.returncode != 0, f"{mutant.name} ({mutant.description}) survived the {mutant.layer} checks"
    assert result.returncode == 1, f"the suite crashed on {mutant.name}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    assert f"{mutant.layer}:" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("variant", CORRECT, ids=lambda m: m.name)
def test_correct_variant_passes(variant, tmp_path):
    result = run_suite(apply(variant, tmp_path), variant.layer)
    assert result.returncode == 0, f"false alarm on {variant.name} ({variant.description}):\n{result.stdout[-4000:]}"


def test_bank_covers_every_layer():
    from nn_harness.cases.registry import SPECS

    assert set(SPECS) - {m.layer for m in MUTANTS} == set()
