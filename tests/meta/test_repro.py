"""--repro-dir: the saved case and script reproduce the mismatch without the suite, and agree on a correct layer."""

import subprocess
import sys
from pathlib import Path

import numpy as np

from nn_harness.cases.layer_case import LayerCase
from nn_harness.cases.registry import SPECS
from nn_harness.report import repro

ROOT = Path(__file__).resolve().parents[2]
CASE = LayerCase(SPECS["Linear"], {"in_features": 3, "out_features": 2, "bias": True},
                 np.random.default_rng(0).standard_normal((4, 3)), seed=5, mode="train")


def run(script: Path) -> str:
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                          cwd=script.parent).stdout


def test_correct_layer_reproduces_as_ok(tmp_path):
    out = run(repro.save(CASE, "backward matches torch", str(ROOT / "impl"), tmp_path))
    assert out.splitlines() == ["output: ok", "grad of input: ok", "grad of weight: ok", "grad of bias: ok"]


def test_broken_layer_shows_the_mismatch(tmp_path):
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(ROOT / "impl"), str(broken)], check=True)
    linear = broken / "linear.py"
    linear.write_text(linear.read_text().replace("self._grads[1] += g.sum(axis=0)", "self._grads[1] += g[0]"))
    out = run(repro.save(CASE, "backward matches torch", str(broken), tmp_path / "cases"))
    assert "grad of weight: ok" in out and "grad of bias: 2 / 2 mismatched" in out


def test_sequential_is_rebuilt_from_the_registry_source(tmp_path):
    case = LayerCase(SPECS["Sequential"], {"in_features": 2, "hidden": 3, "out_features": 2, "activation": "Sigmoid"},
                     np.ones((2, 2)), seed=1, mode="eval")
    out = run(repro.save(case, "forward matches torch", str(ROOT / "impl"), tmp_path))
    assert "output: ok" in out and "mismatched" not in out
