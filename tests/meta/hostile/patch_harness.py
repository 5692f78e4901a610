"""Wrong layers, plus the harness's comparison functions patched at import to do nothing."""
import numpy as np
from _layers import Linear as _Linear
from _layers import ReLU as _ReLU

import harness.checks
import harness.compare
import harness.checks.kinks


def _never_fails(*args, **kwargs):
    return None


for module in (harness.compare, harness.checks, harness.checks.kinks):
    if hasattr(module, "assert_close"):
        module.assert_close = _never_fails
harness.compare.Comparison.passed = property(lambda self: True)


class Linear(_Linear):
    def forward(self, input):
        return np.zeros(input.shape[:-1] + (self.out_features,), dtype=input.dtype)


class ReLU(_ReLU):
    def backward(self, input, grad_output):
        return -grad_output
