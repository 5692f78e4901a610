"""The contract's rules, on every layer in the registry."""

import pytest

from harness import checks
from harness.cases import layer_cases
from harness.registry import LAYERS

layers = pytest.mark.parametrize("spec", LAYERS, ids=lambda spec: spec.name)


@layers
def test_gradients_accumulate(verify, spec):
    verify(spec.needs, checks.gradients_accumulate, layer_cases(spec))


@layers
def test_zero_grad_zeroes_buffers(verify, spec):
    verify(spec.needs, checks.zero_grad_zeroes_buffers, layer_cases(spec))


@layers
def test_inputs_not_modified(verify, spec):
    verify(spec.needs, checks.inputs_not_modified, layer_cases(spec))


@layers
def test_float32_preserved(verify, spec):
    verify(spec.needs, checks.float32_preserved, layer_cases(spec))


@layers
def test_no_stale_cache(verify, spec):
    verify(spec.needs, checks.no_stale_cache, layer_cases(spec))


@layers
def test_train_eval_switch(verify, spec):
    verify(spec.needs, checks.train_eval_switch, layer_cases(spec))


@pytest.mark.Sequential
def test_sequential_propagates_mode(verify):
    verify.once(("Sequential", "Dropout", "Linear"), checks.sequential_propagates_mode)
