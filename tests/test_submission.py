"""Checks on the submission as a whole (not on one layer)."""

import pytest

from nn_harness.grading.points import public
from nn_harness.report import provenance
from nn_harness.run.options import given
from nn_harness.run.plugin import option

pytestmark = pytest.mark.graded("Submission")


def test_uses_numpy_only(pytestconfig, implementation):
    """Its source imports no framework (a static scan of every file it loaded, and of its own folder), and no
    sandbox that ran it mapped one (nn_harness/run/session_sandbox.py fails this check in the controller when one did)."""
    try:
        implementation.require(())
    except AssertionError as failure:
        pytest.fail(f"Submission: uses NumPy only\n{failure}", pytrace=False)
    target = option(pytestconfig, "impl")
    found = provenance.forbidden_imports(target, implementation.loaded_files(),
                                         given(pytestconfig, "notebook_cells"))
    if found:
        pytest.fail("Submission: uses NumPy only\nthe submission imports what it must not use (the point is to write "
                    "the layers with NumPy):\n" + "\n".join(f"  {public(str(item), target)}" for item in found),
                    pytrace=False)
