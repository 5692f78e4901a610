"""The `spec` fixture: a registry spec parametrized indirectly, bound to the implementation under test."""

import pytest

from harness.registry import LayerSpec
from harness.sandbox.loading import Implementation


@pytest.fixture
def spec(request: pytest.FixtureRequest, implementation: Implementation) -> LayerSpec:
    """`LayerSpec.bind`: a class the spec may pick among several (Sequential's activation) is the one the
    implementation defines, fixed in every case drawn, so its twin is built with the same class."""
    return request.param.bind(implementation.module)
