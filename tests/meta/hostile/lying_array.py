"""Layers that return liars instead of arrays. Linear returns an object that looks like an array (shape, dtype,
__array__ with the right values the first time and garbage afterwards) and says it equals anything, with an
absolute value of 0. ReLU returns an ndarray subclass holding the wrong values (its input) whose ==, abs and
comparisons claim a perfect match."""
import numpy as np
from _layers import Linear as _Linear
from _layers import ReLU as _ReLU


class Liar:
    def __init__(self, values):
        self._values, self._calls = np.asarray(values), 0
        self.shape, self.dtype, self.ndim, self.size = self._values.shape, self._values.dtype, \
            self._values.ndim, self._values.size

    def __array__(self, dtype=None, copy=None):
        self._calls += 1
        values = self._values if self._calls == 1 else np.full_like(self._values, 7.0)
        return values.astype(dtype) if dtype is not None else values

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __abs__(self):
        return 0

    def __sub__(self, other):
        return 0

    __rsub__ = __sub__

    def __len__(self):
        return len(self._values)

    def __getitem__(self, index):
        return self._values[index]

    def astype(self, dtype, copy=True):
        return self

    def copy(self):
        return self

    def tolist(self):
        return self._values.tolist()


class Agreeable(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.broadcast_shapes(self.shape, np.shape(other)), dtype=bool)

    def __ne__(self, other):
        return np.zeros(np.broadcast_shapes(self.shape, np.shape(other)), dtype=bool)

    __hash__ = None

    def __abs__(self):
        return np.zeros(self.shape).view(Agreeable)

    def __sub__(self, other):
        return np.zeros(np.broadcast_shapes(self.shape, np.shape(other))).view(Agreeable)

    __rsub__ = __sub__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):  # comparisons, subtraction, abs: "no difference"
        shape = np.broadcast_shapes(*(np.shape(x) for x in inputs))
        if ufunc in (np.equal, np.less_equal, np.greater_equal):
            return np.ones(shape, dtype=bool)
        if ufunc in (np.not_equal, np.less, np.greater):
            return np.zeros(shape, dtype=bool)
        if ufunc in (np.subtract, np.absolute):
            return np.zeros(shape)
        plain = [x.view(np.ndarray) if isinstance(x, Agreeable) else x for x in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)


class Linear(_Linear):
    def forward(self, input):
        return Liar(super().forward(input))

    def backward(self, input, grad_output):
        return Liar(super().backward(input, grad_output))


class ReLU(_ReLU):
    def forward(self, input):
        return np.array(input, copy=True).view(Agreeable)  # the input unchanged: wrong for every negative entry

    def backward(self, input, grad_output):
        return np.array(grad_output, copy=True).view(Agreeable)  # the gradient passed through unmasked: wrong
