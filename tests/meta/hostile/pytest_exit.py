"""pytest.exit inside forward: tries to end the run (and so the report) early."""
from _layers import Linear as _Linear
from _layers import ReLU  # noqa: F401


class Linear(_Linear):
    def forward(self, input):
        import pytest

        pytest.exit("done", returncode=0)
