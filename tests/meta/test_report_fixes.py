"""Issue 12, "a report students and instructors can act on": hints that fit the mistake, the case that failed, the
submission's own marker, short end-to-end failures, and a results.json that tells pending from interrupted."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given

import impl
from nn_harness.cases.layer_case import LayerCase
from nn_harness.cases.registry import SPECS, Tolerance
from nn_harness.checks import finite_diff as fd
from nn_harness.checks import layer as layer_checks
from nn_harness.checks import loss as loss_checks
from nn_harness.checks.compare import CheckFailure, compare
from nn_harness.grading.points import Check
from nn_harness.run.verdicts import PENDING, Verdicts
from nn_harness.sandbox import training
from tests.meta.in_process import failure, namespace

ROOT = Path(__file__).resolve().parents[2]
TOL = Tolerance(rtol=1e-6, atol=1e-9)


def linear_case(x: np.ndarray, **args) -> LayerCase:
    return LayerCase(SPECS["Linear"], {"in_features": x.shape[1], "out_features": 1, "bias": False, **args}, x, 0,
                     "train")


# ------------------------------------------------------------------------------------------- 3. hints that mislead

class OverwritingLinear(impl.Linear):
    def backward(self, input, grad_output):
        for grad in self.grad_parameters():
            grad[...] = 0  # = instead of +=
        return super().backward(input, grad_output)


def test_overwritten_gradient_is_named_as_such():
    message = failure(layer_checks.gradients_accumulate, namespace(Linear=OverwritingLinear),
                      linear_case(np.array([[0.5]])))
    assert "the second backward replaced the first instead of adding to it" in message
    assert "derivative of a square" not in message


class NLLNotAveraged(impl.NLLLoss):
    def backward(self, input, target):
        return super().backward(input, target) * len(target)


def nll_case(x: np.ndarray, target: list[int]) -> loss_checks.CriterionCase:
    return loss_checks.CriterionCase(SPECS["NLLLoss"], x, np.array(target, dtype=np.int64))


def test_coincident_factors_are_told_apart_on_a_larger_input():
    """On 2 samples of 1 class, 2 is the batch size, the number of elements and the 2 of a square alike."""
    message = failure(loss_checks.loss_gradient_matches_torch, namespace(NLLLoss=NLLNotAveraged),
                      nll_case(np.zeros((2, 1)), [0, 0]))
    assert "off by the same factor 2 = the batch size" in message
    assert "number of elements" not in message and "square" not in message


class LinearWeightAveraged(impl.Linear):
    def backward(self, input, grad_output):
        grad_input = super().backward(input, grad_output)
        self.grad_parameters()[0][...] /= len(input)
        return grad_input


def test_factors_that_stay_equal_are_named_as_a_coincidence():
    """One feature: the batch size and the number of elements stay equal on any batch; the 2 of a square does not."""
    message = failure(layer_checks.backward_matches_torch, namespace(Linear=LinearWeightAveraged),
                      linear_case(np.array([[0.3], [-0.7]])))
    assert "1/(the batch size) and 1/(the number of elements) alike" in message and "cannot tell which" in message
    assert "square" not in message


def test_coincident_factors_without_a_recheck_name_none_as_certain():
    hint = compare("grad of input", 0.5 * np.ones(2), np.ones(2), TOL,
                   factors={"the batch size": 2.0, "the number of elements": 2.0}).hint
    assert "cannot tell which" in hint and " = " not in hint


class FusedNLL(impl.NLLLoss):
    def backward(self, input, target):
        return np.exp(input) - np.eye(input.shape[1])[target]  # softmax minus the one-hot target, fused


def test_all_zeros_that_the_formula_gives_is_not_called_never_computed():
    """One class: exp(log-probability 0) - 1 is 0 on this input, but the gradient is computed."""
    message = failure(loss_checks.loss_gradient_matches_torch, namespace(NLLLoss=FusedNLL),
                      nll_case(np.zeros((2, 1)), [0, 0]))
    assert "never computed" not in message
    assert "all zeros on this input but not on a larger one" in message


def test_all_zeros_hint_needs_an_expected_value_clearly_off_zero():
    assert "all zeros" not in (compare("grad of input", np.zeros(3), np.full(3, 1e-7), TOL).hint or "")


def test_nan_on_both_sides_reads_as_a_nan_function_not_a_mismatch():
    nan = np.full((1, 2), np.nan)
    with pytest.raises(CheckFailure) as full:
        fd.assert_jacobians_close("grad of input", nan, nan, (1,), (2,))
    with pytest.raises(CheckFailure) as fast:
        fd.assert_directional_close("grad of input", [np.nan], [np.nan])
    for raised in (full, fast):
        assert "forward gives nan on this input" in str(raised.value)
        assert "mismatched" not in str(raised.value) and "disagrees" not in str(raised.value)


class SigmoidInPlace(impl.Sigmoid):
    def forward(self, input):
        out = super().forward(input)
        input[...] = out  # the result written over the input
        return out


def test_finite_differences_of_a_forward_that_moves_its_input_say_so():
    case = LayerCase(SPECS["Sigmoid"], {}, np.array([[0.5, -1.0]]), 0, "train")
    message = failure(layer_checks.backward_matches_finite_differences, namespace(Sigmoid=SigmoidInPlace), case)
    assert "Sigmoid.forward modified its input in place during the finite differences" in message


# ------------------------------------------------------------------------------- 4. the float32 case that failed

def test_float32_checks_show_a_float32_case():
    @given(case=layer_checks.float32_cases(SPECS["Linear"]))
    def layers(case):
        assert case.x.dtype == np.float32 and "input float32" in repr(case)

    @given(case=loss_checks.float32_criterion_cases(SPECS["MSELoss"]))
    def criteria(case):
        assert "input float32" in repr(case) and "target float32" in repr(case)

    layers()
    criteria()


# ------------------------------------------------------------------------------------ 6. end-to-end failures

class FlattenOneShort(impl.Flatten):
    def forward(self, input):
        return super().forward(input)[:, :-1]


def test_a_shape_error_in_training_names_the_layer_the_call_and_the_shapes():
    x, y = np.zeros((8, 1, 28, 28), dtype=np.float32), np.arange(8) % 10
    with pytest.raises(CheckFailure) as raised:
        training.initial_loss_gate(namespace(Flatten=FlattenOneShort), "mlp", 0, x, y)
    message = str(raised.value)
    assert message.startswith("Linear (layer 2 of 4 in the model's Sequential).forward raised ValueError")
    assert "it was given input (8, 783) float32" in message
    assert "(layer 1 of 4 in the model's Sequential).forward: input (8, 1, 28, 28) float32 -> (8, 783)" in message


def test_end_to_end_failures_have_no_chained_traceback():
    from tests.test_end_to_end import run

    def broken():
        raise ValueError("inside a layer")

    with pytest.raises(pytest.fail.Exception) as raised:
        run("mlp", "initial loss", broken)
    assert raised.value.__context__ is None  # pytest would print it: "During handling of the above exception"


def test_harness_verdicts_in_training_are_check_failures():
    """No traceback of the sandbox's training loop in the report: the trusted side shows a CheckFailure as it is."""
    assert issubclass(training.TrainingTooSlow, CheckFailure) and issubclass(training.TrainingDiverged, CheckFailure)
    with pytest.raises(CheckFailure, match="expected a float"):
        training._loss_value("not a loss", 1, 1)


# ------------------------------------------------------------------------------ 8. pending is not interrupted

def test_unreached_checks_are_pending_while_the_run_goes_on(pytestconfig, tmp_path):
    verdicts = Verdicts(pytestconfig)
    verdicts.grade_json = tmp_path / "results.json"
    verdicts.checks["t"] = Check("t", "Linear", "forward matches torch", "forward")
    verdicts.write()
    assert json.loads(verdicts.grade_json.read_text())["tests"][0]["output"] == PENDING
    session = SimpleNamespace(shouldfail=False, shouldstop=False, exitstatus=pytest.ExitCode.INTERRUPTED)
    verdicts.pytest_sessionfinish(session, pytest.ExitCode.INTERRUPTED)
    assert json.loads(verdicts.grade_json.read_text())["tests"][0]["output"] == "not run: the run was interrupted"


# ----------------------------------------------------------------------------------- 5. -m Submission, and e2e

def harness_run(impl_dir: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"),
               "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-p", "no:xdist", "--impl", str(impl_dir), *options]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_dash_m_submission_selects_the_submissions_own_checks():
    result = harness_run(ROOT / "impl", "-m", "Submission")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Submission " in result.stdout and "1 passed" in result.stdout


@pytest.mark.slow
def test_end_to_end_layer_failure_is_short_in_results_json(tmp_path):
    submission = tmp_path / "flatten_one_short"
    shutil.copytree(ROOT / "impl", submission, ignore=shutil.ignore_patterns("__pycache__"))
    reshape = submission / "reshape.py"
    reshape.write_text(reshape.read_text().replace("return input.reshape(input.shape[0], -1)",
                                                   "return input.reshape(input.shape[0], -1)[:, :-1]"))
    results = tmp_path / "results.json"
    harness_run(submission, "-m", "end_to_end", "-k", "initial and mlp", "--grade-json", str(results))
    (test,) = json.loads(results.read_text())["tests"]
    assert test["output"].startswith("MLP end to end: initial loss: Linear (layer 2 of 4 in the model's Sequential)")
    assert "During handling" not in test["output"] and "Traceback" not in test["output"]
    assert test["output"].count("size 784 is different from 783") == 1



class OtherDivisorAvgPool2d(impl.AvgPool2d):
    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, count_include_pad=not count_include_pad)


@pytest.mark.parametrize("check", [layer_checks.forward_matches_torch, layer_checks.backward_matches_torch])
def test_a_confusion_of_arguments_is_named(check):
    """A spec's confusions (the layer built with other arguments) name the mistake they match."""
    x = np.random.default_rng(0).standard_normal((1, 1, 3, 3))
    pool = LayerCase(SPECS["AvgPool2d"], {"kernel_size": 2, "padding": 1}, x, 0, "train")
    message = failure(check, namespace(AvgPool2d=OtherDivisorAvgPool2d), pool)
    assert "the divisor leaves out the padded positions; with count_include_pad=True it is the kernel size" in message
