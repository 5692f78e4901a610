"""Raises KeyboardInterrupt and calls pytest.exit / pytest.skip to stop or dodge the checks."""
from _layers import Linear as _Linear
from _layers import ReLU as _ReLU


class Linear(_Linear):
    def forward(self, input):
        raise KeyboardInterrupt


class ReLU(_ReLU):
    def backward(self, input, grad_output):
        import pytest

        pytest.skip("nothing to see here")
