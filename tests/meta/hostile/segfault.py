"""ReLU.backward crashes the interpreter (reads address 0)."""
import ctypes

from _layers import Linear  # noqa: F401
from _layers import ReLU as _ReLU


class ReLU(_ReLU):
    def backward(self, input, grad_output):
        ctypes.string_at(0)
