"""Every criterion in the registry: loss and gradient against torch and finite differences, and the contract."""

import pytest

from nn_harness.cases.registry import CRITERIA, SPECS
from nn_harness.checks import loss as checks
from nn_harness.checks.loss import criterion_cases

criteria = pytest.mark.parametrize("spec", CRITERIA, ids=lambda spec: spec.name)
classifiers = pytest.mark.parametrize("spec", [SPECS["CrossEntropyLoss"], SPECS["TemporalCrossEntropyLoss"]],
                                      ids=lambda spec: spec.name)


@criteria
def test_loss_matches_torch(verify, spec):
    verify(spec, checks.loss_matches_torch, criterion_cases)


@criteria
def test_loss_gradient_matches_torch(verify, spec):
    verify(spec, checks.loss_gradient_matches_torch, criterion_cases)


@criteria
def test_loss_gradient_matches_finite_differences(verify, spec):
    verify(spec, checks.loss_gradient_matches_finite_differences, criterion_cases)


@criteria
def test_loss_inputs_not_modified(verify, spec):
    verify(spec, checks.loss_inputs_not_modified, criterion_cases)


@criteria
def test_loss_float32_preserved(verify, spec):
    verify(spec, checks.loss_float32_preserved, checks.float32_criterion_cases)


@classifiers
def test_stable_for_large_logits(verify, spec):
    verify(spec, checks.stable_for_large_logits, criterion_cases)
