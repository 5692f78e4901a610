"""The `spec` fixture: a registry spec parametrized indirectly, bound to the implementation under test."""

import pytest

from nn_harness.cases.registry import LayerSpec
from nn_harness.run.session_sandbox import Submission


@pytest.fixture
def spec(request: pytest.FixtureRequest, implementation: Submission) -> LayerSpec:
    """`LayerSpec.bind`: a class the spec may pick among several (Sequential's activation) is the one the
    implementation defines, fixed in every case drawn, so its twin is built with the same class."""
    return request.param.bind(implementation.module)
