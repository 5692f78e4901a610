"""The `spec` fixture: a registry spec parametrized indirectly, bound to the implementation under test."""

import pytest

from harness.isolation import Submission
from harness.registry import LayerSpec


@pytest.fixture
def spec(request: pytest.FixtureRequest, implementation: Submission) -> LayerSpec:
    """`LayerSpec.bind`: a class the spec may pick among several (Sequential's activation) is the one the
    implementation defines, fixed in every case drawn, so its twin is built with the same class."""
    return request.param.bind(implementation.module)
