"""One bug, one failure; the course's scope; a missing layer is one line.

A wrong value fails the checks that compare values (against torch and finite differences), not the contract checks,
which hold the implementation to its own results; a Sequential's backward must reuse what its forward did; a check
the course does not ask for runs for 0 points; a layer the submission lacks is one line of the verdict."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

import impl
from nn_harness.cases.layer_case import LayerCase, layer_cases
from nn_harness.cases.narrowing import narrowed
from nn_harness.cases.registry import SPECS
from nn_harness.checks import layer as checks
from nn_harness.checks.compare import CheckFailure
from nn_harness.grading import points
from nn_harness.report import verdict
from nn_harness.sandbox import adapters
from tests.meta.in_process import failure, namespace

VALUE_CHECKS = {"forward_matches_torch", "backward_matches_torch", "backward_matches_finite_differences"}
CONTRACT_CHECKS = {"gradients_accumulate", "no_stale_cache", "float32_preserved", "inputs_not_modified",
                   "zero_grad_zeroes_buffers", "backward_is_derived_not_numerical"}


class BiasFromFirstSample(impl.Linear):
    def backward(self, input, grad_output):
        grad = super().backward(input, grad_output)
        self._grads[1] -= grad_output[1:].sum(axis=0)  # what is left: sample 0's contribution alone
        return grad


class HalvedOutput(impl.Linear):
    def forward(self, input):
        return super().forward(input) / 2


class NumericalBackward(impl.Linear):
    """Central differences of its own forward, on a float64 copy of the input: every value right to ~1e-10, every
    rule kept (tests/meta/mutants.py linear_numerical_backward is the same bug in impl/)."""

    def backward(self, input, grad_output):
        x = input.astype(np.float64, order="C")
        grad_input = np.zeros_like(x)
        for tensor, grad in ((x, grad_input), *zip(self._params, self._grads)):
            flat, into = tensor.reshape(-1), grad.reshape(-1)
            for i in range(flat.size):
                original = flat[i]
                flat[i] = high = original + 1e-5
                up = self.forward(x)
                flat[i] = low = original - 1e-5
                down = self.forward(x)
                flat[i] = original
                into[i] += np.vdot(grad_output, up - down) / (high - low)
        return grad_input.astype(input.dtype, copy=False)


class ForwardAgainInBackward(impl.Sequential):
    def backward(self, input, grad_output):
        self.forward(input)  # a second forward: a new dropout mask, a second update of the running statistics
        return super().backward(input, grad_output)


def failed(ns, case: LayerCase) -> set[str]:
    found = set()
    for name in sorted(VALUE_CHECKS | CONTRACT_CHECKS):
        try:
            getattr(checks, name)(ns, case if name != "float32_preserved" else
                                  case.mapped(lambda a: a.astype(np.float32)))
        except CheckFailure:
            found.add(name)
    return found


LINEAR = LayerCase(SPECS["Linear"], {"in_features": 3, "out_features": 2, "bias": True},
                   np.random.default_rng(0).standard_normal((4, 3)), 5, "train")


@pytest.mark.parametrize(("bug", "fails"), [
    (BiasFromFirstSample, {"backward_matches_torch", "backward_matches_finite_differences"}),
    (HalvedOutput, {"forward_matches_torch", "backward_matches_finite_differences"}),
    (NumericalBackward, {"backward_is_derived_not_numerical"}),  # right values: only the forward calls show it
])
def test_a_wrong_value_fails_only_the_listedthat_compare_values(bug, fails):
    assert failed(namespace(Linear=bug), LINEAR) == fails
    assert failed(namespace(), LINEAR) == set()


def test_a_numerical_backward_is_named_with_its_count_and_input():
    message = failure(checks.backward_is_derived_not_numerical, namespace(Linear=NumericalBackward), LINEAR)
    # 2 calls for each of the 12 input, 6 weight and 2 bias elements
    assert message.startswith("Linear.backward called forward 40 times for an input of 4x3 and parameters weight 2x3,"
                              " bias 2 (at most 2 allowed)"), message


def test_a_sequential_whose_backward_runs_forward_again_is_caught():
    ns = namespace(Sequential=ForwardAgainInBackward)
    assert "another mask" in failure(lambda ns, _: checks.sequential_backward_keeps_the_dropout_mask(ns), ns, None)
    assert "running_mean" in failure(lambda ns, _: checks.sequential_backward_updates_running_statistics_once(ns),
                                     ns, None)
    checks.sequential_backward_keeps_the_dropout_mask(impl)
    checks.sequential_backward_updates_running_statistics_once(impl)


def test_inputs_are_drawn_within_the_courses_value_bound():
    course = adapters.profile_for("practical_dl")
    seen = []
    for layer in ("Softplus", "Softmax", "Linear"):
        spec = SPECS[layer]

        @settings(max_examples=30, database=None)
        @given(case=layer_cases(dataclasses.replace(spec, **narrowed(course, spec, "forward matches torch"))))
        def largest(case):
            seen.append(float(np.abs(case.x).max()))

        largest()
    assert seen and max(seen) <= 10.0 + 1e-12


def check(layer: str, name: str, outcome: str, **fields) -> points.Check:
    return points.Check(f"tests/x.py::{layer}-{name}", layer, name, "forward", outcome, **fields)


def test_a_missing_layer_is_one_line_and_a_check_beyond_the_course_is_worth_nothing():
    weights = points.load_weights(None)
    missing = [check("Conv2d", name, "failed", message="Conv2d: x\nlayers.py does not define Conv2d: not implemented",
                     missing=True) for name in ("forward matches torch", "backward matches torch")]
    beyond = check("Linear", "gradients accumulate", "failed", message="no", beyond="beyond the course (c): why")
    graded = check("Linear", "forward matches torch", "passed")
    listed = [*missing, beyond, graded]
    data = points.results_json(listed, weights, summary=[], elapsed=1.0, not_run_reason="", import_error=None)
    names = [test["name"] for test in data["tests"]]
    assert names.count("Conv2d: not implemented") == 1 and not any("Conv2d: forward" in n for n in names)
    [line] = [t for t in data["tests"] if t["name"] == "Conv2d: not implemented"]
    assert line["max_score"] == 2 * weights.of("Conv2d", "forward") and "does not define Conv2d" in line["output"]
    [shown] = [t for t in data["tests"] if t["name"] == "Linear: gradients accumulate"]
    assert shown["max_score"] == 0 and shown["status"] == "failed" and "beyond the course" in shown["tags"]
    assert data["score"] == weights.of("Linear", "forward")
    assert data["max_score"] == weights.of("Linear", "forward") + 2 * weights.of("Conv2d", "forward")
    table = [text for text, _ in verdict.table(listed, weights, profile="c", grade_over="expressible",
                                               import_error=None)]
    assert any(text.startswith("Conv2d") and "not implemented" in text for text in table)
    assert any(text.startswith("Linear") and "1 / 1" in text and "beyond the course" in text for text in table)
