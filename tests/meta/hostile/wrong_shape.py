"""ReLU.forward drops the last column; Linear.backward returns the transpose."""
from _layers import Linear as _Linear
from _layers import ReLU as _ReLU


class Linear(_Linear):
    def backward(self, input, grad_output):
        return super().backward(input, grad_output).T


class ReLU(_ReLU):
    def forward(self, input):
        return super().forward(input)[..., :-1]
