"""backward forgets to return."""
from _layers import Linear as _Linear
from _layers import ReLU as _ReLU


class Linear(_Linear):
    def backward(self, input, grad_output):
        super().backward(input, grad_output)


class ReLU(_ReLU):
    def backward(self, input, grad_output):
        super().backward(input, grad_output)
