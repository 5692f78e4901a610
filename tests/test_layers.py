"""Every layer in the registry, forward and backward, against torch and against finite differences; the layers
with a `large_scale` (exp inside) also at scale."""

import pytest

from nn_harness.cases.registry import LAYERS
from nn_harness.checks import layer as checks

# indirect: the `spec` fixture (tests/conftest.py) binds each spec to the implementation under test
layers = pytest.mark.parametrize("spec", LAYERS, ids=lambda spec: spec.name, indirect=True)


@layers
def test_forward_matches_torch(verify, spec):
    verify(spec, checks.forward_matches_torch)


@layers
def test_backward_matches_torch(verify, spec):
    verify(spec, checks.backward_matches_torch)


@layers
def test_backward_matches_finite_differences(verify, spec):
    verify(spec, checks.backward_matches_finite_differences)


@pytest.mark.parametrize("spec", [spec for spec in LAYERS if spec.large_scale], ids=lambda spec: spec.name, indirect=True)
def test_stable_for_large_inputs(verify, spec):
    verify(spec, checks.stable_for_large_inputs)
