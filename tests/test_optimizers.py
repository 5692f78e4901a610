"""Every optimizer in the registry, step by step against torch.optim on the same gradients."""

import pytest

from harness.checks import optim as checks
from harness.checks.optim import optimizer_cases
from harness.registry import OPTIMIZERS

optimizers = pytest.mark.parametrize("spec", OPTIMIZERS, ids=lambda spec: spec.name)


@optimizers
def test_steps_match_torch(verify, spec):
    verify(spec, checks.steps_match_torch, optimizer_cases)


@optimizers
def test_zero_grad_zeroes_module_grads(verify, spec):
    verify(spec, checks.zero_grad_zeroes_module_grads, optimizer_cases)
