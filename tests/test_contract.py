"""The contract's rules, on every layer in the registry."""

import pytest

from harness import checks
from harness.registry import LAYERS

layers = pytest.mark.parametrize("spec", LAYERS, ids=lambda spec: spec.name)


@layers
def test_gradients_accumulate(verify, spec):
    verify(spec, checks.gradients_accumulate)


@layers
def test_zero_grad_zeroes_buffers(verify, spec):
    verify(spec, checks.zero_grad_zeroes_buffers)


@layers
def test_inputs_not_modified(verify, spec):
    verify(spec, checks.inputs_not_modified)


@layers
def test_float32_preserved(verify, spec):
    verify(spec, checks.float32_preserved)


@layers
def test_no_stale_cache(verify, spec):
    verify(spec, checks.no_stale_cache)


@layers
def test_train_eval_switch(verify, spec):
    verify(spec, checks.train_eval_switch)


@pytest.mark.Sequential
def test_sequential_propagates_mode(verify):
    verify.once(("Sequential", "Dropout", "Linear"), checks.sequential_propagates_mode)
