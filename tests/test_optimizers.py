"""Every optimizer in the registry, step by step against torch.optim on the same gradients."""

import pytest

from nn_harness.cases.registry import OPTIMIZERS
from nn_harness.checks import optim as checks
from nn_harness.checks.optim import optimizer_cases

optimizers = pytest.mark.parametrize("spec", OPTIMIZERS, ids=lambda spec: spec.name)


@optimizers
def test_steps_match_torch(verify, spec):
    verify(spec, checks.steps_match_torch, optimizer_cases)


@optimizers
def test_zero_grad_zeroes_module_grads(verify, spec):
    verify(spec, checks.zero_grad_zeroes_module_grads, optimizer_cases)
