"""The classic from-scratch CNN tutorial style (victorzhou.com, "CNNs from scratch"): single images, no batch axis;
`Conv3x3(num_filters)` on a 2-D image (filters (F, 3, 3), no bias, valid) giving (h, w, F); `MaxPool2()` (2x2,
stride 2) on (h, w, F); `Softmax(input_len, nodes)`, a dense layer (weights (input_len, nodes), biases) whose
forward flattens and returns probabilities. Each `backprop(d_L_d_out, learn_rate)` returns d_L_d_input and updates
its own parameters: gradients are never exposed, so the wrapper recovers them from the update."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.base import Adapter, Criterion, Layer, pair, uniform
from nn_harness.sandbox.adapters.profile import NotExpressible
from nn_harness.sandbox.student import CheckFailure

STYLE = "update-only"
# The learning rate handed to backprop when a gradient is to be recovered from the update: a power of two, so
# lr * grad is exact and (before - after) / lr recovers grad to within rounding of the parameters / lr.
LEARN_RATE = 1024.0


def backprop(layer: Any, upstream: np.ndarray, learn_rate: float) -> Any:
    """`layer.backprop(d_L_d_out, learn_rate)`, or `backprop(d_L_d_out)` for a layer without parameters."""
    try:
        takes_rate = len(inspect.signature(layer.backprop).parameters) >= 2
    except (TypeError, ValueError):
        takes_rate = True
    return layer.backprop(upstream, learn_rate) if takes_rate else layer.backprop(upstream)


def _none_is_not_implemented(result: Any, layer: Any) -> Any:
    if result is None:
        raise CheckFailure(f"{type(layer).__name__}.backprop returned None for its input gradient (the tutorial's "
                           "first layer does not compute it): grad of input not implemented")
    return result


def _stack(results: list[Any]) -> Any:
    """The per-image results as a batch (an ill-shaped result is left for the checks to report)."""
    try:
        return np.stack(results)
    except (ValueError, TypeError):
        return results


class PerImage(Layer):
    """Applies a single-image layer to each sample of the batch and stacks the results."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner


class Conv(PerImage):
    """Conv2d(1, F, 3, bias=False) as Conv3x3(F): image n is input[n, 0] (H, W); the (h, w, F) output is
    transposed to (F, h, w). The wrapper owns the live weight (F, 1, 3, 3); the layer's `filters` are set to
    weight[:, 0] (in the input's dtype) before each call, and backprop's update is undone after recovering
    grad = (before - after) / LEARN_RATE, which is ADDED into the buffer. `omits_input`: the profile does not grade
    the input gradient (rules.omitted_gradients: the tutorial's first layer returns None), so a backprop returning
    None gives None for it; otherwise that is "not implemented"."""

    def __init__(self, course: Any, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, bias: bool = True, *, omits_input: bool = False) -> None:
        wrong = [f"{name}={value!r}" for name, value, ok in (
            ("in_channels", in_channels, in_channels == 1), ("kernel_size", kernel_size, pair(kernel_size) == (3, 3)),
            ("stride", stride, pair(stride) == (1, 1)), ("padding", padding, pair(padding) == (0, 0)),
            ("bias", bias, not bias)) if not ok]
        if wrong:
            raise NotExpressible(STYLE, f"Conv2d({', '.join(wrong)}) (Conv3x3 is Conv2d(1, F, 3, bias=False): one "
                                        "2-D image, 3x3 filters, stride 1, no padding, no bias)")
        super().__init__(course(out_channels))
        self.omits_input = omits_input
        self.weight = uniform((out_channels, 1, 3, 3), 9)
        self.grad = np.zeros_like(self.weight)

    def _bind(self, dtype: np.dtype) -> np.ndarray:
        filters = self.weight[:, 0].astype(dtype, copy=True)
        self.inner.filters = filters
        return filters

    def _forward(self, input: np.ndarray) -> np.ndarray:
        self._bind(input.dtype)
        return _stack([np.transpose(self.inner.forward(image[0]), (2, 0, 1)) for image in input])

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        grads = []
        for image, g in zip(input, grad_output):
            filters = self._bind(input.dtype)
            before = filters.copy()
            self.inner.forward(image[0])  # the layer caches the latest image only
            result = backprop(self.inner, np.transpose(g, (1, 2, 0)), LEARN_RATE)
            after = np.asarray(self.inner.filters, dtype=np.float64)  # updated in place or rebound
            self.grad[:, 0] += (before.astype(np.float64) - after) / LEARN_RATE
            grads.append(result if result is None and self.omits_input else
                         _none_is_not_implemented(result, self.inner)[np.newaxis])
        self._bind(input.dtype)  # the update is undone: the forward state is unchanged
        return None if any(g is None for g in grads) else _stack(grads)

    def _parameters(self) -> list[np.ndarray]:
        return [self.weight]

    def _grad_parameters(self) -> list[np.ndarray]:
        return [self.grad]


class MaxPool(PerImage):
    """MaxPool2d(2) as MaxPool2(): image n is input[n] transposed to (H, W, C); the output back to (C, h, w)."""

    def __init__(self, course: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        if pair(kernel_size) != (2, 2) or pair(kernel_size if stride is None else stride) != (2, 2) \
                or pair(padding) != (0, 0):
            raise NotExpressible(STYLE, f"MaxPool2d(kernel_size={kernel_size!r}, stride={stride!r}, "
                                        f"padding={padding!r}) (MaxPool2 is MaxPool2d(2): 2x2 windows, stride 2, "
                                        "no padding)")
        super().__init__(course())

    def _forward(self, input: np.ndarray) -> np.ndarray:
        return _stack([np.transpose(self.inner.forward(np.transpose(image, (1, 2, 0))), (2, 0, 1))
                       for image in input])

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        grads = []
        for image, g in zip(input, grad_output):
            self.inner.forward(np.transpose(image, (1, 2, 0)))
            result = backprop(self.inner, np.transpose(g, (1, 2, 0)), LEARN_RATE)
            grads.append(np.transpose(_none_is_not_implemented(result, self.inner), (2, 0, 1)))
        return _stack(grads)


class IdentityDense:
    """The tutorial's Softmax(C, C) with identity weights and zero biases (in the input's dtype): its totals are
    exactly its input, so it is a plain softmax. backprop runs with learn_rate 0 and the parameters are reset
    before every call."""

    def __init__(self, course: Any) -> None:
        self.course = course
        self.layers: dict[int, Any] = {}

    def layer(self, x: np.ndarray) -> Any:
        c = x.shape[-1]
        if c not in self.layers:
            self.layers[c] = self.course(c, c)
        layer = self.layers[c]
        layer.weights, layer.biases = np.eye(c, dtype=x.dtype), np.zeros(c, dtype=x.dtype)
        return layer

    def forward(self, x: np.ndarray) -> Any:
        return self.layer(x).forward(x)

    def backprop(self, x: np.ndarray, upstream: np.ndarray) -> Any:
        layer = self.layer(x)
        layer.forward(x)  # the layer caches the latest image's totals only
        return _none_is_not_implemented(backprop(layer, upstream, 0.0), layer)


class Softmax(Layer):
    """Softmax() (over axis 1 of (N, C)) as the tutorial's Softmax(C, C) with identity weights, its backprop given
    each sample's upstream gradient as it is. The tutorial's own backprop handles only the one non-zero entry that
    cross-entropy gives (it returns inside its loop, after the first): a general upstream gradient shows that, as
    it must (the wrapper does not split it into one-entry parts, which would hide it)."""

    def __init__(self, course: Any) -> None:
        self.dense = IdentityDense(course)

    def _forward(self, input: np.ndarray) -> np.ndarray:
        return _stack([self.dense.forward(row) for row in input])

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return _stack([self.dense.backprop(row, g) for row, g in zip(input, grad_output)])


class CrossEntropy(Criterion):
    """CrossEntropyLoss as the tutorial's training step: probabilities from Softmax(C, C) with identity weights,
    loss = -log(out[label]), d_L_d_out = -1 / out[label] at the label (0 elsewhere) through backprop; both
    averaged over the batch. A target probability that underflows to 0 (logits far apart) is not expressible."""

    def __init__(self, course: Any) -> None:
        self.dense = IdentityDense(course)

    def _probability(self, row: np.ndarray, label: int) -> Any:
        out = self.dense.forward(row)
        p = out[label]
        if p == 0:
            raise NotExpressible(STYLE, "CrossEntropyLoss where the target's probability underflows to 0 (the "
                                        "tutorial's loss -log(out[label]) is then infinite; torch's is finite)")
        return p

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        losses = [-np.log(self._probability(row, label)) for row, label in zip(input, target)]
        return np.sum(losses) / len(input)

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        grads = []
        for row, label in zip(input, target):
            p = self._probability(row, label)
            upstream = np.zeros_like(row)
            upstream[label] = -1 / p
            grads.append(self.dense.backprop(row, upstream))
        stacked = _stack(grads)
        return stacked / np.asarray(len(input), dtype=input.dtype) if isinstance(stacked, np.ndarray) else stacked


class UpdateOnly(Adapter):
    binders = {
        "Conv2d": lambda m, names, profile: lambda *a, **k: Conv(
            getattr(m, names[0]), *a, **k, omits_input="input" in profile.rules.omitted_gradients.get("Conv2d", ())),
        "MaxPool2d": lambda m, names, profile: lambda *a, **k: MaxPool(getattr(m, names[0]), *a, **k),
        "Softmax": lambda m, names, profile: lambda: Softmax(getattr(m, names[0])),
        "CrossEntropyLoss": lambda m, names, profile: lambda: CrossEntropy(getattr(m, names[0])),
    }
