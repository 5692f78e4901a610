"""Wrong layers, plus the harness's comparison functions patched at import to do nothing. The checks compare in
the grader's process, which never imports the submission: in the sandbox nn_harness.checks is not even importable,
and what is (nn_harness.sandbox) is patched only there."""
import numpy as np
from _layers import Linear as _Linear
from _layers import ReLU as _ReLU


def _never_fails(*args, **kwargs):
    return None


try:
    import nn_harness.checks
    import nn_harness.checks.kinks
    import nn_harness.checks.compare
except ImportError:
    PATCHED_CHECKS = False
else:
    for module in (nn_harness.checks.compare, nn_harness.checks, nn_harness.checks.kinks):
        if hasattr(module, "assert_close"):
            module.assert_close = _never_fails
    nn_harness.checks.compare.Comparison.passed = property(lambda self: True)
    PATCHED_CHECKS = True

try:
    import nn_harness.sandbox.student as _student
except ImportError:
    PATCHED_SANDBOX = False
else:  # the sandbox's own copy: whatever it says about a failure, the grader decides
    _student.CheckFailure.__init__ = lambda self, *args: Exception.__init__(self, "passed")
    _student.returned = lambda what, value, expected: value
    PATCHED_SANDBOX = True


class Linear(_Linear):
    def forward(self, input):
        return np.zeros(input.shape[:-1] + (self.out_features,), dtype=input.dtype)


class ReLU(_ReLU):
    def backward(self, input, grad_output):
        return -grad_output
