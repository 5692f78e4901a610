"""The Stanford CS231n style: functional layers `<layer>_forward(x, ...) -> (out, cache)` and
`<layer>_backward(dout, cache) -> dx or (dx, dparam...)`, and `softmax_loss(x, y) -> (loss, dx)`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from harness import strategies
from harness.adapters.base import Adapter, Binding, Criterion, Layer, NotExpressible, pair, unbiased_running_var, uniform

STYLE = "cs231n"


class Functional(Layer):
    """A layer from a forward/backward pair. The wrapper owns the live parameter arrays (torch's layout) and
    their gradient buffers; subclasses convert arguments (`_arguments`) and parameter gradients (`_native`)."""

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], params: list[np.ndarray]) -> None:
        self._fn_forward, self._fn_backward = forward, backward
        self._params = params
        self._grads = [np.zeros_like(p) for p in params]
        self._cache: Any = None

    def _arguments(self, input: np.ndarray) -> tuple:
        """What follows x in the forward call; parameters in the input's dtype (cs231n models keep one dtype)."""
        return tuple(p.astype(input.dtype, copy=False) for p in self._params)

    def _native(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        """The parameter gradients the backward returned, in the order and layout of `_params`."""
        return grads

    def _forward(self, input: np.ndarray) -> np.ndarray:
        output, self._cache = self._fn_forward(input, *self._arguments(input))
        return output

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        result = self._fn_backward(grad_output, self._cache)
        if not self._params and not isinstance(result, tuple):
            return result
        grad_input, *grads = result
        for buffer, grad in zip(self._grads, self._native(grads), strict=True):
            buffer += grad
        return grad_input

    def _parameters(self) -> list[np.ndarray]:
        return self._params

    def _grad_parameters(self) -> list[np.ndarray]:
        return self._grads


class WithBias(Functional):
    """A layer whose functions always take a bias `b` (and return `db`): bias=False passes zeros, drops db."""

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], weight_shape: tuple[int, ...],
                 fan_in: int, bias: bool) -> None:
        self.weight = uniform(weight_shape, fan_in)
        self.bias = uniform(weight_shape[:1], fan_in) if bias else None
        super().__init__(forward, backward, [self.weight] if self.bias is None else [self.weight, self.bias])

    def _weight(self, input: np.ndarray) -> np.ndarray:
        return self.weight.astype(input.dtype, copy=False)

    def _arguments(self, input: np.ndarray) -> tuple:
        bias = np.zeros(self.weight.shape[0], input.dtype) if self.bias is None else self.bias.astype(input.dtype, copy=False)
        return self._weight(input), bias

    def _native(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        return grads[: len(self._params)]


class Affine(WithBias):
    """affine_forward(x, w, b) with w laid out (in, out): the transpose (a view) of the live (out, in) weight."""

    def __init__(self, m: ModuleType, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(m.affine_forward, m.affine_backward, (out_features, in_features), in_features, bias)

    def _weight(self, input: np.ndarray) -> np.ndarray:
        return super()._weight(input).T

    def _native(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        dw, *rest = super()._native(grads)
        return [dw.T, *rest]


def _square(layer: str, argument: str, value: Any) -> int:
    h, w = pair(value)
    if h != w:
        raise NotExpressible(STYLE, f"{layer}({argument}={value!r}) (cs231n takes one {argument} for both axes)")
    return h


class Conv(WithBias):
    """conv_forward_naive(x, w, b, conv_param) with conv_param {'stride', 'pad'}: square stride and padding."""

    def __init__(self, m: ModuleType, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, bias: bool = True) -> None:
        self.conv_param = {"stride": _square("Conv2d", "stride", stride), "pad": _square("Conv2d", "padding", padding)}
        kh, kw = pair(kernel_size)
        super().__init__(m.conv_forward_naive, m.conv_backward_naive, (out_channels, in_channels, kh, kw),
                         in_channels * kh * kw, bias)

    def _arguments(self, input: np.ndarray) -> tuple:
        return (*super()._arguments(input), dict(self.conv_param))


class MaxPool(Functional):
    """max_pool_forward_naive(x, pool_param) with pool_param {'pool_height', 'pool_width', 'stride'}; no padding."""

    def __init__(self, m: ModuleType, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        if pair(padding) != (0, 0):
            raise NotExpressible(STYLE, f"MaxPool2d(padding={padding!r}) (cs231n pools without padding)")
        kh, kw = pair(kernel_size)
        self.pool_param = {"pool_height": kh, "pool_width": kw,
                           "stride": _square("MaxPool2d", "stride", kernel_size if stride is None else stride)}
        super().__init__(m.max_pool_forward_naive, m.max_pool_backward_naive, [])

    def _arguments(self, input: np.ndarray) -> tuple:
        return (dict(self.pool_param),)


class Dropout(Functional):
    """dropout_forward(x, dropout_param): 'p' is the probability of KEEPING a unit, 'mode' 'train' / 'test'."""

    def __init__(self, m: ModuleType, p: float = 0.5) -> None:
        self.p = p
        super().__init__(m.dropout_forward, m.dropout_backward, [])

    def _arguments(self, input: np.ndarray) -> tuple:
        return ({"p": 1 - self.p, "mode": "train" if self.training else "test"},)


class BatchNorm(Functional):
    """batchnorm_forward(x, gamma, beta, bn_param); running statistics converted exactly to torch's."""

    def __init__(self, m: ModuleType, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        self.eps, self.keep = eps, 1.0 - momentum  # cs231n: running = momentum * running + (1 - momentum) * batch
        self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)
        self._bn_param: dict = {}
        self._cache_training = True
        super().__init__(m.batchnorm_forward, m.batchnorm_backward, [np.ones(num_features), np.zeros(num_features)])

    def _arguments(self, input: np.ndarray) -> tuple:
        self._bn_param = {"mode": "train" if self.training else "test", "eps": self.eps, "momentum": self.keep,
                          "running_mean": self.running_mean.astype(input.dtype),
                          "running_var": self.running_var.astype(input.dtype)}
        return (*super()._arguments(input), self._bn_param)

    def _forward(self, input: np.ndarray) -> np.ndarray:
        old_var = self.running_var.copy()
        output = super()._forward(input)
        self._cache_training = self.training
        if self.training:
            self.running_mean[...] = self._bn_param["running_mean"]
            self.running_var[...] = unbiased_running_var(old_var, self._bn_param["running_var"], self.keep, len(input))
        return output

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        if not self._cache_training:
            raise NotExpressible(STYLE, "BatchNorm1d.backward in eval mode (batchnorm_backward differentiates the "
                                        "training-mode forward only)")
        return super()._backward(input, grad_output)


class SoftmaxLoss(Criterion):
    """softmax_loss(x, y) -> (loss, dx): forward returns the loss, backward dx."""

    def __init__(self, m: ModuleType) -> None:
        self.fn = m.softmax_loss

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self.fn(input, target)[0]

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        return self.fn(input, target)[1]


def _relu(m: ModuleType) -> Callable[[], Layer]:
    return lambda: Functional(m.relu_forward, m.relu_backward, [])


NAMES = ("affine_forward", "relu_forward", "conv_forward_naive", "max_pool_forward_naive", "dropout_forward",
         "batchnorm_forward", "softmax_loss")


class CS231n(Adapter):
    name = STYLE
    signature = "defines cs231n functional layers (affine_forward, ...)"
    conventions = {
        "layers": "<layer>_forward(x, ...) -> (out, cache) and <layer>_backward(dout, cache) -> dx or "
                  "(dx, dparams...); the wrapper keeps the latest cache, owns the parameters and ADDS dparams "
                  "into its gradient buffers",
        "dtypes": "parameters and running statistics are passed in the input's dtype (a cs231n model keeps one dtype)",
        "affine": "w laid out (in, out): the transpose view of the live (out, in) weight is passed; dw transposed back",
        "bias=False": "b = zeros is passed and db dropped (Linear, Conv2d)",
        "conv": "conv_forward_naive / conv_backward_naive; conv_param {'stride', 'pad'}: one stride and one padding "
                "for both axes (rectangular ones are not expressible, and not drawn)",
        "max pool": "max_pool_forward_naive / max_pool_backward_naive; pool_param {'pool_height', 'pool_width', "
                    "'stride'}; no padding, one stride for both axes (only such cases are drawn)",
        "dropout": "dropout_param 'p' is the probability of KEEPING a unit: p_keep = 1 - p; mode 'train' / 'test'; "
                   "no seed",
        "batchnorm": "bn_param momentum = 1 - torch momentum (running = momentum*running + (1-momentum)*batch); "
                     "running_var averages BIASED batch variances and is converted exactly to torch's unbiased one: "
                     "r = m*old + (running_var - m*old) * n/(n-1); backward only in training mode, so graded in "
                     "training mode only",
        "CrossEntropyLoss": "softmax_loss(x, y) -> (loss, dx): forward returns loss, backward dx",
    }
    # Graded on the arguments cs231n can state (declared above), not failed on the rest.
    restrictions = {
        "Conv2d": {"configs": strategies.conv2d_configs(square=True)},
        "MaxPool2d": {"configs": strategies.maxpool2d_configs(square_stride=True, padding=False)},
        "BatchNorm1d": {"modes": ("train",)},
    }
    unexpressible = {name: "cs231n has no such layer function" for name in (
        "LeakyReLU", "Sigmoid", "Tanh", "Flatten", "Softmax", "LogSoftmax", "MSELoss", "NLLLoss")}
    unexpressible |= {
        "Sequential": "cs231n has no container (its models wire the functions by hand)",
        "SGD": "not mapped: optim.py's update rules are not part of layers.py and have no weight_decay",
        "Adam": "not mapped: optim.py's update rules are not part of layers.py and have no weight_decay",
    }

    def bindings(self) -> dict[str, Binding]:
        return {
            "Linear": (("affine_forward", "affine_backward"), lambda m: lambda *a, **k: Affine(m, *a, **k)),
            "ReLU": (("relu_forward", "relu_backward"), _relu),
            "Conv2d": (("conv_forward_naive", "conv_backward_naive"), lambda m: lambda *a, **k: Conv(m, *a, **k)),
            "MaxPool2d": (("max_pool_forward_naive", "max_pool_backward_naive"),
                          lambda m: lambda *a, **k: MaxPool(m, *a, **k)),
            "Dropout": (("dropout_forward", "dropout_backward"), lambda m: lambda *a, **k: Dropout(m, *a, **k)),
            "BatchNorm1d": (("batchnorm_forward", "batchnorm_backward"), lambda m: lambda *a, **k: BatchNorm(m, *a, **k)),
            "CrossEntropyLoss": (("softmax_loss",), lambda m: lambda: SoftmaxLoss(m)),
        }

    def detects(self, module: ModuleType) -> bool:
        return any(inspect.isfunction(getattr(module, name, None)) for name in NAMES)
