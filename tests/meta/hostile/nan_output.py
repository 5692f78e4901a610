"""NaN and inf in the results."""
import numpy as np
from _layers import Linear as _Linear
from _layers import ReLU as _ReLU


class Linear(_Linear):
    def forward(self, input):
        return super().forward(input) * np.nan


class ReLU(_ReLU):
    def backward(self, input, grad_output):
        return super().backward(input, grad_output) / 0.0
