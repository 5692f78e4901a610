"""Dropout in training mode, statistically (see nn_harness/checks/dropout.py for the false-failure probability)."""

import pytest

from nn_harness.checks import dropout as checks

needs = ("Dropout",)
pytestmark = pytest.mark.Dropout


def test_fraction_dropped_matches_p(verify):
    verify.once(needs, checks.fraction_dropped_matches_p)


def test_survivors_scaled(verify):
    verify.once(needs, checks.survivors_scaled)


@pytest.mark.parametrize("p", [0.0, 0.5])
def test_eval_is_identity(verify, p):
    verify.once(needs, checks.eval_is_identity, p)


def test_p_zero_is_identity_in_training(verify):
    verify.once(needs, checks.survivors_scaled, (0.0,))


def test_backward_uses_forward_mask(verify):
    verify.once(needs, checks.backward_uses_forward_mask)


def test_fresh_mask_each_forward(verify):
    verify.once(needs, checks.fresh_mask_each_forward, 0.5)
