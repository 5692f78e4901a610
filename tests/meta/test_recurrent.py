"""Layers with several inputs and outputs (the recurrent ones): what a wrong return looks like, that every state's
gradient is compared, and that the sequence checks isolate the path through time they name."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import impl
from nn_harness.cases.layer_case import LayerCase
from nn_harness.cases.registry import SPECS
from nn_harness.checks import layer as layer_checks
from nn_harness.checks import recurrent as recurrent_checks
from nn_harness.report import repro
from tests.meta.in_process import failure, namespace

ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(7)


def case(layer: str, *shapes: tuple[int, ...], **args) -> LayerCase:
    x, *state = (RNG.standard_normal(shape) for shape in shapes)
    return LayerCase(SPECS[layer], {"input_size": shapes[0][-1], "hidden_size": shapes[1][-1], **args}, x, 3, "train",
                     tuple(state))


CELL = ("RNNCell", (2, 3), (2, 4))
LSTM_CELL = ("LSTMCell", (2, 3), (2, 4), (2, 4))
SEQUENCE = ("RNN", (2, 4, 3), (2, 2))


class HOnlyLSTMCell(impl.LSTMCell):
    def forward(self, input, hx, cx):
        return super().forward(input, hx, cx)[0]


class GradInputOnlyRNN(impl.RNN):
    def backward(self, input, h0, grad_output):
        return super().backward(input, h0, grad_output)[0]


def test_several_outputs_must_come_as_a_tuple():
    message = failure(layer_checks.forward_matches_torch, namespace(LSTMCell=HOnlyLSTMCell), case(*LSTM_CELL))
    assert "LSTMCell.forward returned" in message and "expected a tuple of 2 arrays (h, c)" in message


def test_the_initial_state_gradient_must_be_returned():
    message = failure(layer_checks.backward_matches_torch, namespace(RNN=GradInputOnlyRNN), case(*SEQUENCE))
    assert "expected a tuple of 2 arrays (grad of input, grad of h0)" in message


class HalfStateGradientRNNCell(impl.RNNCell):
    def backward(self, input, hx, grad_output):
        grad_input, grad_hx = super().backward(input, hx, grad_output)
        return grad_input, grad_hx / 2


@pytest.mark.parametrize("check", [layer_checks.backward_matches_torch, layer_checks.backward_matches_finite_differences])
def test_a_wrong_state_gradient_is_named(check):
    message = failure(check, namespace(RNNCell=HalfStateGradientRNNCell), case(*CELL))
    assert message.startswith("grad of hx")


class ForgetfulRNN(impl.RNN):
    """Backpropagation through time that drops what the later step sends back."""

    def _backward(self, input, state, grad_output):
        states, saved = self._run(input, state)
        grad_input = np.empty_like(input)
        for t in reversed(range(input.shape[1])):
            grad_input[:, t], grad_state = self.cell._step_backward(input[:, t], states[t], saved[t],
                                                                     (grad_output[:, t],))
        return grad_input, *grad_state


def test_the_path_through_time_is_isolated():
    """A backward that does not carry the gradient back fails the last-step check with its hint, and passes the
    first-step one (no later step sends anything back there)."""
    ns = namespace(RNN=ForgetfulRNN)
    message = failure(recurrent_checks.gradient_only_at_last_step, ns, case(*SEQUENCE))
    assert message.startswith("grad of input with an upstream gradient at the last step only")
    assert "the gradient stopped at the last step" in message
    recurrent_checks.gradient_only_at_first_step(ns, case(*SEQUENCE))


def test_the_correct_layers_pass_the_sequence_checks():
    for layer, shapes in (("RNN", SEQUENCE[1:]), ("LSTM", ((2, 4, 3), (2, 2), (2, 2)))):
        for check in (recurrent_checks.one_step_sequence, recurrent_checks.gradient_only_at_last_step,
                      recurrent_checks.gradient_only_at_first_step, recurrent_checks.long_saturating_sequence):
            check(impl, case(layer, *shapes))


class TimeAveragedBiasTemporalLinear(impl.TemporalLinear):
    def backward(self, input, grad_output):
        before = self._grads[1].copy()
        grad = super().backward(input, grad_output)
        self._grads[1][...] = before + (self._grads[1] - before) / input.shape[1]
        return grad


def test_a_backward_bug_fails_the_value_checks_not_accumulation():
    """A bias gradient averaged over time (halved at T = 2) is a wrong backward that accumulates correctly: backward
    against torch fails, gradients accumulate (held to the layer's own first backward) passes; one bug, one failure."""
    x = RNG.standard_normal((1, 2, 1))
    temporal = LayerCase(SPECS["TemporalLinear"], {"in_features": 1, "out_features": 1}, x, 0, "train")
    buggy = namespace(TemporalLinear=TimeAveragedBiasTemporalLinear)
    assert "grad of bias" in failure(layer_checks.backward_matches_torch, buggy, temporal)
    layer_checks.gradients_accumulate(buggy, temporal)


def test_a_reproduction_of_a_layer_with_several_inputs_and_outputs_runs(tmp_path):
    script = repro.save(case(*LSTM_CELL), "backward matches torch", str(ROOT / "impl"), tmp_path)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    for line in ("h: ok", "c: ok", "grad of input: ok", "grad of hx: ok", "grad of cx: ok", "grad of bias_hh: ok"):
        assert line in run.stdout.splitlines()

