"""The contract's rules, on every layer in the registry."""

import pytest

from nn_harness.cases.layer_case import any_mode_cases
from nn_harness.cases.registry import LAYERS, SPECS
from nn_harness.checks import layer as checks

# indirect: the `spec` fixture (tests/conftest.py) binds each spec to the implementation under test
layers = pytest.mark.parametrize("spec", LAYERS, ids=lambda spec: spec.name, indirect=True)


@layers
def test_gradients_accumulate(verify, spec):
    verify(spec, checks.gradients_accumulate)


@layers
def test_zero_grad_zeroes_buffers(verify, spec):
    verify(spec, checks.zero_grad_zeroes_buffers)


# These two need no value of the twin's: they run in the random modes too (Dropout in training, its mask).
@layers
def test_inputs_not_modified(verify, spec):
    verify(spec, checks.inputs_not_modified, any_mode_cases)


# Integer inputs (Embedding's indices) have no float32 variant.
@pytest.mark.parametrize("spec", [spec for spec in LAYERS if not spec.integer_inputs], ids=lambda spec: spec.name,
                         indirect=True)
def test_float32_preserved(verify, spec):
    verify(spec, checks.float32_preserved, checks.float32_cases)


@layers
def test_no_stale_cache(verify, spec):
    verify(spec, checks.no_stale_cache)


# Central differences over its own forward match every value check: the sandbox counts the forward calls instead.
@layers
def test_backward_is_derived_not_numerical(verify, spec):
    verify(spec, checks.backward_is_derived_not_numerical, checks.train_mode_cases)


@layers
def test_train_eval_switch(verify, spec):
    verify(spec, checks.train_eval_switch)


@pytest.mark.Sequential
def test_sequential_propagates_mode(verify):
    verify.once(("Sequential", "Dropout", "Linear"), checks.sequential_propagates_mode)


# A Sequential's backward must reuse what its forward did: a random child's mask, a stateful child's single update.
@pytest.mark.Sequential
def test_sequential_backward_keeps_the_dropout_mask(verify):
    verify.once(("Sequential", "Dropout"), checks.sequential_backward_keeps_the_dropout_mask)


@pytest.mark.Sequential
def test_sequential_backward_updates_running_statistics_once(verify):
    verify.once(("Sequential", "BatchNorm1d"), checks.sequential_backward_updates_running_statistics_once)


@pytest.mark.parametrize("spec", [SPECS["Sequential"]], ids=lambda spec: spec.name, indirect=True)
def test_batch_size_changes_between_passes(verify, spec):
    verify(spec, checks.batch_size_changes_between_passes)
