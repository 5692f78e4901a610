"""Recurrent sequence layers: the gradient through time, path by path (nn_harness/checks/recurrent.py)."""

import pytest

from nn_harness.cases.registry import LAYERS
from nn_harness.checks import recurrent as checks

# indirect: the `spec` fixture (tests/conftest.py) binds each spec to the implementation under test
sequences = pytest.mark.parametrize("spec", [spec for spec in LAYERS if spec.recurrent], ids=lambda spec: spec.name,
                                    indirect=True)


@sequences
def test_one_step_sequence(verify, spec):
    verify(spec, checks.one_step_sequence, checks.one_step)


@sequences
def test_gradient_only_at_last_step(verify, spec):
    verify(spec, checks.gradient_only_at_last_step, checks.several_steps)


@sequences
def test_gradient_only_at_first_step(verify, spec):
    verify(spec, checks.gradient_only_at_first_step, checks.several_steps)


@sequences
def test_long_saturating_sequence(verify, spec):
    verify(spec, checks.long_saturating_sequence, checks.long_saturating)
