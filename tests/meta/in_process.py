"""Checks run in this process on impl/ with a class swapped for a buggy one: what a check says about one bug."""

from types import SimpleNamespace

import pytest

import impl
from nn_harness.checks.compare import CheckFailure


def namespace(**replaced):
    """impl/ with some of its classes replaced by a buggy version."""
    return SimpleNamespace(**{**{name: getattr(impl, name) for name in dir(impl) if not name.startswith("_")},
                              **replaced})


def failure(check, ns, case) -> str:
    """The message of the failure `check(ns, case)` must raise."""
    with pytest.raises(CheckFailure) as raised:
        check(ns, case)
    return str(raised.value)


class FakeConfig:
    """What nn_harness.run.options and nn_harness.grading.assignment read of a pytest.Config: flags and the stash."""

    def __init__(self, **flags: str) -> None:
        self.flags, self.stash = flags, pytest.Stash()

    def getoption(self, name: str, default: object = None) -> object:
        return self.flags.get(name, default)
