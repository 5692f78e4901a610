"""os._exit inside backward: the process ends without any Python clean-up."""
import os

from _layers import Linear as _Linear
from _layers import ReLU  # noqa: F401


class Linear(_Linear):
    def backward(self, input, grad_output):
        os._exit(0)
