"""Checks on the submission as a whole (not on one layer)."""

import pytest

from harness import provenance
from harness.plugin import option

pytestmark = pytest.mark.graded("Submission")


def test_uses_numpy_only(pytestconfig):
    found = provenance.forbidden_imports(option(pytestconfig, "impl"))
    if found:
        pytest.fail("Submission: uses NumPy only\nthe submission imports what it must not use (the point is to write "
                    "the layers with NumPy):\n" + "\n".join(f"  {item}" for item in found), pytrace=False)
