"""Wrong ReLU that patches the harness and torch from inside forward (after the import-time check)."""
import numpy as np
from _layers import Linear  # noqa: F401
from _layers import ReLU as _ReLU


class ReLU(_ReLU):
    def forward(self, input):
        import torch
        import torch.nn.functional

        import harness.checks

        harness.checks.assert_close = lambda *args, **kwargs: None
        torch.nn.functional.relu = lambda x, inplace=False: x  # the torch twin now agrees with the identity
        torch.relu = lambda x: x
        return np.array(input, copy=True)

    def backward(self, input, grad_output):
        return grad_output.copy()
