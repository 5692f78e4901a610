"""Kinks and ties get their own tests that accept any valid subgradient (nn_harness/checks/kinks.py)."""

import pytest

from nn_harness.cases.registry import LAYERS, SPECS
from nn_harness.checks import kinks as checks


@pytest.mark.parametrize("spec", [spec for spec in LAYERS if spec.kink_slopes], ids=lambda spec: spec.name)
def test_subgradient_at_kink(verify, spec):
    verify(spec, checks.subgradient_at_kink, checks.kink_cases)


@pytest.mark.parametrize("spec", [SPECS["MaxPool2d"]], ids=lambda spec: spec.name)
def test_maxpool_ties_conserve_gradient(verify, spec):
    verify(spec, checks.maxpool_ties_conserve_gradient, checks.tie_cases)
