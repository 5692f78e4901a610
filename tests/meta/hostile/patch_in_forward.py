"""Wrong ReLU (the identity) that patches the harness and torch from inside forward, after the import-time
checks. Neither is importable in the sandbox, and patching them there would not reach the grader's comparisons."""
import numpy as np
from _layers import Linear  # noqa: F401
from _layers import ReLU as _ReLU


def _patch():
    try:
        import torch
        import torch.nn.functional
    except ImportError:
        pass
    else:
        torch.nn.functional.relu = lambda x, inplace=False: x  # the torch twin now agrees with the identity
        torch.relu = lambda x: x
    try:
        import nn_harness.checks
    except ImportError:
        pass
    else:
        nn_harness.checks.assert_close = lambda *args, **kwargs: None


class ReLU(_ReLU):
    def forward(self, input):
        _patch()
        return np.array(input, copy=True)

    def backward(self, input, grad_output):
        _patch()
        return grad_output.copy()
