"""Linear.forward returns a 20000 x 20000 float64 array (3.2 GB: past the sandbox's memory limit or the size of a
reply the grader accepts); ReLU returns arrays that are not numbers (strings, objects)."""
import numpy as np
from _layers import Linear as _Linear
from _layers import ReLU as _ReLU


class Linear(_Linear):
    def forward(self, input):
        return np.zeros((20_000, 20_000))


class ReLU(_ReLU):
    def forward(self, input):
        return np.array(["a", "b"])

    def backward(self, input, grad_output):
        return np.asarray(super().backward(input, grad_output), dtype=object)
