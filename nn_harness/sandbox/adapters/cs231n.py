"""The functional driver (Stanford CS231n): layers `<layer>_forward(x, ...) -> (out, cache)` and
`<layer>_backward(dout, cache) -> dx or (dx, dparam...)` (word_embedding_backward: dW alone; the recurrent ones take
and return the state too: rnn_step_backward -> (dx, dprev_h, dWx, dWh, db)), and `softmax_loss(x, y) -> (loss, dx)`.
Function names, narrowing and conventions are the profile's (cs231n.toml)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.base import (
    Adapter,
    Binder,
    Criterion,
    Layer,
    in_shape_of,
    pair,
    unbiased_running_var,
    uniform,
)
from nn_harness.sandbox.adapters.profile import NotExpressible, Profile
from nn_harness.sandbox.student import CheckFailure, add_into, describe

STYLE = "cs231n"
IGNORED = -100  # TemporalCrossEntropyLoss's masked-out target (torch's ignore_index)


class Functional(Layer):
    """A layer from a forward/backward pair. The wrapper owns the live parameter arrays (torch's layout) and
    their gradient buffers; subclasses convert arguments (`_arguments`) and parameter gradients (`_native`)."""

    allclose = False  # rules.shapes = "allclose": a gradient is read as the course's rel_error compares it (set by the binder)

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

    def _returned(self) -> tuple[str, ...]:
        """The parameter gradients the backward returns after the inputs', for its error message."""
        return tuple(f"d{i}" for i in range(len(self._params)))

    def _forward(self, input: np.ndarray, *state: np.ndarray) -> Any:
        """forward(x, *state, *arguments) -> (out, cache); the state: a recurrent layer's previous h."""
        output, self._cache = self._fn_forward(input, *state, *self._arguments(input))
        return output

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        result = self._fn_backward(grad_output, self._cache)
        if not self._params and not isinstance(result, tuple):
            return result
        return self._input_gradients(result, ("dx",))[0]

    def _input_gradients(self, result: Any, inputs: tuple[str, ...]) -> tuple:
        """What the backward returned for `inputs` (first in its tuple); the parameter gradients after them are
        ADDED into the gradient buffers."""
        what = f"{self._fn_backward.__name__}"
        returned = self._returned()
        if not isinstance(result, tuple) or len(result) < len(inputs) + len(returned):
            raise CheckFailure(f"{what} returned {describe(result)}; expected a tuple ({', '.join(inputs)}, "
                               f"{', '.join(returned)})")
        for buffer, grad in zip(self._grads, self._native(list(result[len(inputs):]))):
            add_into(buffer, in_shape_of(grad, buffer) if self.allclose and isinstance(grad, np.ndarray) else grad, what)
        return result[: len(inputs)]

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

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], in_features: int, out_features: int,
                 bias: bool = True) -> None:
        super().__init__(forward, backward, (out_features, in_features), in_features, bias)

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

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], in_channels: int, out_channels: int,
                 kernel_size: Any, stride: Any = 1, padding: Any = 0, bias: bool = True) -> None:
        self.conv_param = {"stride": _square("Conv2d", "stride", stride), "pad": _square("Conv2d", "padding", padding)}
        kh, kw = pair(kernel_size)
        super().__init__(forward, backward, (out_channels, in_channels, kh, kw), in_channels * kh * kw, bias)

    def _arguments(self, input: np.ndarray) -> tuple:
        return (*super()._arguments(input), dict(self.conv_param))


class MaxPool(Functional):
    """max_pool_forward_naive(x, pool_param) with pool_param {'pool_height', 'pool_width', 'stride'}; no padding."""

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], kernel_size: Any, stride: Any = None,
                 padding: Any = 0) -> None:
        if pair(padding) != (0, 0):
            raise NotExpressible(STYLE, f"MaxPool2d(padding={padding!r}) (cs231n pools without padding)")
        kh, kw = pair(kernel_size)
        self.pool_param = {"pool_height": kh, "pool_width": kw,
                           "stride": _square("MaxPool2d", "stride", kernel_size if stride is None else stride)}
        super().__init__(forward, backward, [])

    def _arguments(self, input: np.ndarray) -> tuple:
        return (dict(self.pool_param),)


class Dropout(Functional):
    """dropout_forward(x, dropout_param): 'p' the probability of KEEPING a unit (cs231n since 2018) or of dropping
    it (before), as the profile says or the function's docstring states; 'mode' 'train' / 'test'."""

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], keeps: bool, p: float = 0.5) -> None:
        self.p = 1 - p if keeps else p
        super().__init__(forward, backward, [])

    def _arguments(self, input: np.ndarray) -> tuple:
        return ({"p": self.p, "mode": "train" if self.training else "test"},)


def _affine(layer: str, argument: str, affine: bool) -> None:
    if not affine:
        raise NotExpressible(STYLE, f"{layer}({argument}=False) (cs231n's normalisations always take gamma and beta)")


def _rank(layer: str, forward: Callable[..., Any], input: np.ndarray, rank: int) -> None:
    if input.ndim != rank:
        raise NotExpressible(STYLE, f"{layer} on input of shape {input.shape} ({forward.__name__} takes {rank}-D input)")


class BatchNorm(Functional):
    """batchnorm_forward(x, gamma, beta, bn_param); running statistics converted exactly to torch's."""

    layer = "BatchNorm1d"

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], num_features: int, eps: float = 1e-5,
                 momentum: float = 0.1, affine: bool = True) -> None:
        _affine(self.layer, "affine", affine)
        self.eps, self.keep = eps, 1.0 - momentum  # cs231n: running = momentum * running + (1 - momentum) * batch
        self.running_mean, self.running_var = np.zeros(num_features), np.ones(num_features)
        self._bn_param: dict = {}
        self._cache_training = True
        super().__init__(forward, backward, [np.ones(num_features), np.zeros(num_features)])

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
            # The batch statistics average over every axis but the features' (N, or N, H and W).
            n = input.size // len(self.running_var)
            self.running_var[...] = unbiased_running_var(old_var, self._bn_param["running_var"], self.keep, n)
        return output

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        if not self._cache_training:
            raise NotExpressible(STYLE, f"{self.layer}.backward in eval mode ({self._fn_backward.__name__} "
                                        "differentiates the training-mode forward only)")
        return super()._backward(input, grad_output)


class SpatialBatchNorm(BatchNorm):
    """spatial_batchnorm_forward(x, gamma, beta, bn_param): the same on (N, C, H, W), gamma and beta of shape (C,),
    the batch statistics over N, H and W."""

    layer = "BatchNorm2d"


def _features(normalized_shape: Any) -> int:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) != 1:
        raise NotExpressible(STYLE, f"LayerNorm(normalized_shape={normalized_shape!r}) (cs231n's layernorm_forward "
                                    "normalises the features D of (N, D) input)")
    return int(shape[0])


class LayerNorm(Functional):
    """layernorm_forward(x, gamma, beta, ln_param) on (N, D) input, ln_param {'eps'}; gamma and beta of shape (D,)."""

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], normalized_shape: Any,
                 eps: float = 1e-5, elementwise_affine: bool = True) -> None:
        _affine("LayerNorm", "elementwise_affine", elementwise_affine)
        features = _features(normalized_shape)
        self.eps = eps
        super().__init__(forward, backward, [np.ones(features), np.zeros(features)])

    def _arguments(self, input: np.ndarray) -> tuple:
        return (*super()._arguments(input), {"eps": self.eps})

    def _forward(self, input: np.ndarray) -> np.ndarray:
        _rank("LayerNorm", self._fn_forward, input, 2)
        return super()._forward(input)


class GroupNorm(Functional):
    """spatial_groupnorm_forward(x, gamma, beta, G, gn_param) on (N, C, H, W) input, gn_param {'eps'}; gamma and beta
    of shape (1, C, 1, 1): views of the live (C,) parameters, dgamma and dbeta reshaped back."""

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], num_groups: int, num_channels: int,
                 eps: float = 1e-5, affine: bool = True) -> None:
        _affine("GroupNorm", "affine", affine)
        self.groups, self.eps = num_groups, eps
        super().__init__(forward, backward, [np.ones(num_channels), np.zeros(num_channels)])

    def _arguments(self, input: np.ndarray) -> tuple:
        gamma, beta = (p.reshape(1, -1, 1, 1) for p in super()._arguments(input))
        return gamma, beta, self.groups, {"eps": self.eps}

    def _native(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        # Any other shape is passed on as returned, for add_into to name it as the student's.
        spatial = (1, len(self._params[0]), 1, 1)
        return [np.reshape(g, -1) if np.shape(g) == spatial else g for g in grads]

    def _forward(self, input: np.ndarray) -> np.ndarray:
        _rank("GroupNorm", self._fn_forward, input, 4)
        return super()._forward(input)


class Embedding(Functional):
    """word_embedding_forward(x, W) on (N, T) indices, W (V, D) the live weight; word_embedding_backward(dout, cache)
    returns dW alone, added into the gradient buffer (indices have no gradient: backward returns None, as the contract
    says)."""

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], num_embeddings: int,
                 embedding_dim: int) -> None:
        super().__init__(forward, backward, [np.random.default_rng().standard_normal((num_embeddings, embedding_dim))])

    def _arguments(self, input: np.ndarray) -> tuple:
        return tuple(self._params)  # the input is integer indices: W keeps its own dtype

    def _forward(self, input: np.ndarray) -> np.ndarray:
        _rank("Embedding", self._fn_forward, input, 2)
        return super()._forward(input)

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> None:
        add_into(self._grads[0], self._fn_backward(grad_output, self._cache), self._fn_backward.__name__)


class Recurrent(Functional):
    """A recurrent step or sequence: the live parameters are torch's weight_ih (G*H, D), weight_hh (G*H, H), bias_ih
    and bias_hh (G*H,); cs231n's functions take Wx (D, G*H), Wh (H, G*H) and one b (G*H,), their columns in gate
    blocks of the course's order (`order`: torch's blocks, in it). Passed: the transposes, blocks reordered, and
    b = bias_ih + bias_hh (zeros for bias=False); dWx, dWh transposed and reordered back, db ADDED into both biases'
    gradient buffers (dropped for bias=False)."""

    gates = 1
    order: tuple[int, ...] = (0,)
    grad_inputs = ("dx", "dprev_h")  # what the backward returns before the parameter gradients

    def __init__(self, forward: Callable[..., Any], backward: Callable[..., Any], input_size: int, hidden_size: int,
                 bias: bool = True) -> None:
        size = self.gates * hidden_size
        self.weight_ih, self.weight_hh = uniform((size, input_size), hidden_size), uniform((size, hidden_size), hidden_size)
        self.bias_ih, self.bias_hh = (uniform((size,), hidden_size), uniform((size,), hidden_size)) if bias else (None, None)
        # torch's rows in the course's column order
        self._rows = np.concatenate([np.arange(k * hidden_size, (k + 1) * hidden_size) for k in self.order])
        super().__init__(forward, backward, [p for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
                                             if p is not None])

    def _returned(self) -> tuple[str, ...]:
        return ("dWx", "dWh", "db")

    def _arguments(self, input: np.ndarray) -> tuple:
        weight_ih, weight_hh, *biases = super()._arguments(input)
        b = biases[0] + biases[1] if biases else np.zeros(len(self._rows), input.dtype)
        return weight_ih[self._rows].T, weight_hh[self._rows].T, b[self._rows]

    def _torch(self, grad: Any, like: np.ndarray) -> Any:
        """A gradient in the course's layout as torch's; any other shape is passed on as returned, for add_into to
        name it as the student's."""
        if np.shape(grad) != like.shape[::-1]:
            return grad
        native = np.empty(like.shape, np.result_type(grad))
        native[self._rows] = np.transpose(grad)
        return native

    def _native(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        dwx, dwh, db = grads[:3]
        native = [self._torch(dwx, self.weight_ih), self._torch(dwh, self.weight_hh)]
        return native if self.bias_ih is None else [*native, self._torch(db, self.bias_ih), self._torch(db, self.bias_hh)]


class RNNStep(Recurrent):
    """rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache), rnn_step_backward(dnext_h, cache) -> (dx, dprev_h,
    dWx, dWh, db) as RNNCell: forward(input, hx), backward(input, hx, grad_output) -> (grad_input, grad_hx)."""

    def _backward(self, input: np.ndarray, hx: np.ndarray, grad_output: np.ndarray) -> tuple:
        return self._input_gradients(self._fn_backward(grad_output, self._cache), self.grad_inputs)


class RNNSequence(RNNStep):
    """rnn_forward(x, h0, Wx, Wh, b) -> (h, cache) on (N, T, D), h (N, T, H), rnn_backward(dh, cache) -> (dx, dh0,
    dWx, dWh, db) as RNN (batch first): forward(input, h0), backward(input, h0, grad_output) -> (grad_input, grad_h0)."""

    grad_inputs = ("dx", "dh0")


class LSTMStep(Recurrent):
    """lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c, cache), lstm_step_backward(dnext_h,
    dnext_c, cache) -> (dx, dprev_h, dprev_c, dWx, dWh, db) as LSTMCell; the course's gates i, f, o, g are torch's
    blocks 0, 1, 3, 2."""

    gates = 4
    order = (0, 1, 3, 2)
    grad_inputs = ("dx", "dprev_h", "dprev_c")

    def _forward(self, input: np.ndarray, hx: np.ndarray, cx: np.ndarray) -> tuple:
        h, c, self._cache = self._fn_forward(input, hx, cx, *self._arguments(input))
        return h, c

    def _backward(self, input: np.ndarray, hx: np.ndarray, cx: np.ndarray, grad_h: np.ndarray,
                  grad_c: np.ndarray) -> tuple:
        return self._input_gradients(self._fn_backward(grad_h, grad_c, self._cache), self.grad_inputs)


class LSTMSequence(LSTMStep):
    """lstm_forward(x, h0, Wx, Wh, b) -> (h, cache), lstm_backward(dh, cache) -> (dx, dh0, dWx, dWh, db) as LSTM (batch
    first). lstm_forward takes no c0 (the cell state starts at zero): the profile draws c0 as zeros and does not grade
    its gradient ([rules.zero_inputs]); a nonzero c0 is not expressible, and backward returns None for it."""

    grad_inputs = ("dx", "dh0")

    def _forward(self, input: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> Any:
        if np.any(c0 != 0):
            raise NotExpressible(STYLE, "LSTM with a nonzero c0 (lstm_forward(x, h0, Wx, Wh, b) starts the cell state "
                                        "at zero)")
        return Functional._forward(self, input, h0)

    def _backward(self, input: np.ndarray, h0: np.ndarray, c0: np.ndarray, grad_output: np.ndarray) -> tuple:
        return (*self._input_gradients(self._fn_backward(grad_output, self._cache), self.grad_inputs), None)


class SoftmaxLoss(Criterion):
    """softmax_loss(x, y) -> (loss, dx): forward returns the loss, backward dx."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self.fn(input, target)[0]

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        return self.fn(input, target)[1]


class TemporalSoftmaxLoss(Criterion):
    """temporal_softmax_loss(x, y, mask) -> (loss, dx) as TemporalCrossEntropyLoss: a target of -100 is a masked-out
    step (mask False, y 0 there); cs231n divides the masked sum by N, torch's mean by the steps kept: loss and dx are
    scaled by N / kept, exactly."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def _run(self, input: np.ndarray, target: np.ndarray) -> tuple[Any, Any, float]:
        kept = target != IGNORED
        loss, dx = self.fn(input, np.where(kept, target, 0), kept)
        return loss, dx, len(input) / max(int(kept.sum()), 1)

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        loss, _, scale = self._run(input, target)
        return loss * scale if isinstance(loss, float | np.floating) else loss  # anything else: the student's to see

    def _backward(self, input: np.ndarray, target: np.ndarray) -> Any:
        _, dx, scale = self._run(input, target)
        return (dx * np.asarray(scale, dtype=dx.dtype)) if isinstance(dx, np.ndarray) else dx


def _functional(make: Callable[..., Layer]) -> Binder:
    """A layer from the profile's (forward, backward) function pair; `make(forward, backward, *args, **kwargs)`."""
    def bind(m: ModuleType, names: tuple[str, ...], profile: Profile) -> Callable[..., Layer]:
        def build(*args: Any, **kwargs: Any) -> Layer:
            layer = make(getattr(m, names[0]), getattr(m, names[1]), *args, **kwargs)
            layer.allclose = profile.rules.shapes == "allclose"
            return layer
        return build
    return bind


def _dropout(m: ModuleType, names: tuple[str, ...], profile: Profile) -> Callable[..., Layer]:
    forward, backward = getattr(m, names[0]), getattr(m, names[1])
    keeps, _ = profile.dropout_keeps(forward)
    return lambda *a, **k: Dropout(forward, backward, keeps, *a, **k)


class CS231n(Adapter):
    binders = {
        "Linear": _functional(Affine), "Conv2d": _functional(Conv), "MaxPool2d": _functional(MaxPool),
        "ReLU": _functional(lambda f, b: Functional(f, b, [])), "BatchNorm1d": _functional(BatchNorm),
        "BatchNorm2d": _functional(SpatialBatchNorm), "LayerNorm": _functional(LayerNorm),
        "GroupNorm": _functional(GroupNorm), "Embedding": _functional(Embedding), "Dropout": _dropout,
        "RNNCell": _functional(RNNStep), "RNN": _functional(RNNSequence), "LSTMCell": _functional(LSTMStep),
        "LSTM": _functional(LSTMSequence),
        "TemporalLinear": _functional(Affine),
        "CrossEntropyLoss": lambda m, names, profile: lambda: SoftmaxLoss(getattr(m, names[0])),
        "TemporalCrossEntropyLoss": lambda m, names, profile: lambda: TemporalSoftmaxLoss(getattr(m, names[0])),
    }
