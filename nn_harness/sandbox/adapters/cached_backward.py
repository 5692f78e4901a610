"""The cached-input style: layers cache their input in `forward(x)` and take only `backward(dout)`; parameters
are attributes `w`, `b` with gradients `dW`, `dB` (those of the latest backward); `update(lr)` takes a plain
gradient step and `zero_grad()` clears the cache; `Linear(n_in, n_out, reg)` lays w out (in, out) and adds the L2
term 2*reg*w to dW; `Softmax.forward(scores)` returns probabilities, `NLLloss(y)` the mean loss for integer
labels and `backward(y)` d loss / d scores."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.base import Adapter, Criterion, Layer, uniform
from nn_harness.sandbox.adapters.profile import NotExpressible

STYLE = "cached-backward"
REG = 0.25  # the L2 strength Linear is built with (when it takes `reg`): 2*reg = 0.5, so removing the term is exact


def _accepts(cls: Any, name: str) -> bool:
    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _grad(inner: Any, *names: str) -> np.ndarray:
    for name in names:
        if hasattr(inner, name):
            return np.asarray(getattr(inner, name), dtype=np.float64)
    raise AttributeError(f"{type(inner).__name__} has no {' / '.join(names)} after backward")


class Cached(Layer):
    """A layer whose backward takes only dout (the input comes from its own cache)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def _forward(self, input: np.ndarray) -> np.ndarray:
        return self.inner.forward(input)

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return self.inner.backward(grad_output)

    def _zero_grad(self) -> None:
        super()._zero_grad()
        if callable(getattr(self.inner, "zero_grad", None)):
            self.inner.zero_grad()


class Linear(Cached):
    """The wrapper owns the live (out, in) weight and (out,) bias and hands the layer `w` = weight.T (a view) and
    `b` (a view in the layer's own bias shape) before every call; after each backward it ADDS the layer's dW
    (minus the L2 term 2*reg*w), transposed, and dB into its buffers."""

    def __init__(self, course: Any, in_features: int, out_features: int, bias: bool = True) -> None:
        kwargs = {"reg": REG} if _accepts(course, "reg") else {}
        super().__init__(course(in_features, out_features, **kwargs))
        self.reg = float(getattr(self.inner, "reg", 0.0) or 0.0)
        self.weight = uniform((out_features, in_features), in_features)
        self.bias = uniform((out_features,), in_features) if bias else None
        self._bias_shape = np.shape(getattr(self.inner, "b", np.zeros(out_features)))
        self._grads = [np.zeros_like(p) for p in self._parameters()]

    def _bind(self) -> None:
        self.inner.w = self.weight.T
        bias = self.bias if self.bias is not None else np.zeros(self.weight.shape[0])
        self.inner.b = bias.reshape(self._bias_shape)

    def _forward(self, input: np.ndarray) -> np.ndarray:
        self._bind()
        return super()._forward(input)

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        self._bind()
        grad_input = super()._backward(input, grad_output)
        dw = _grad(self.inner, "dW", "dw").T - 2 * self.reg * self.weight
        self._grads[0] += dw
        if self.bias is not None:
            self._grads[1] += _grad(self.inner, "dB", "db").reshape(self.bias.shape)
        return grad_input

    def _parameters(self) -> list[np.ndarray]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def _grad_parameters(self) -> list[np.ndarray]:
        return self._grads


class SoftmaxNLL(Criterion):
    """CrossEntropyLoss(scores, y): Softmax.forward(scores), then NLLloss(y) (forward) or backward(y)."""

    def __init__(self, course: Any) -> None:
        self.inner = course()

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        self.inner.forward(input)
        return self.inner.NLLloss(target)

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        self.inner.forward(input)
        return self.inner.backward(target)


class UpdateSGD:
    """SGD(module, lr) as the style's Linear.update(lr): each (weight (out, in), bias (out,)) pair of the module's
    parameters is handed to a Linear(in, out, reg=0) host as w = weight.T, b, dW = grad.T, dB, update(lr) runs,
    and the host's w, b are written back into the live arrays."""

    def __init__(self, course: Any, module: Any, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        if momentum:
            raise NotExpressible(STYLE, f"SGD(momentum={momentum!r}) (update(lr) is a plain gradient step)")
        if weight_decay:
            raise NotExpressible(STYLE, f"SGD(weight_decay={weight_decay!r}) (the style's L2 term is Linear's reg, "
                                        "added to dW in backward, not in the step)")
        self.module, self.lr = module, lr
        params = list(module.parameters())
        self.pairs: list[tuple[Any, int, int]] = []
        i = 0
        while i < len(params):
            w = params[i]
            if (w.ndim == 2 and i + 1 < len(params) and params[i + 1].shape == (w.shape[0],)):
                kwargs = {"reg": 0.0} if _accepts(course, "reg") else {}
                self.pairs.append((course(w.shape[1], w.shape[0], **kwargs), i, i + 1))
                i += 2
            else:
                raise NotExpressible(STYLE, f"SGD over a parameter of shape {w.shape} (update(lr) belongs to Linear: "
                                            "only (weight, bias) pairs)")

    def step(self) -> None:
        params, grads = list(self.module.parameters()), list(self.module.grad_parameters())
        for host, wi, bi in self.pairs:
            b_shape = np.shape(getattr(host, "b", params[bi]))
            host.w, host.b = params[wi].T.copy(), params[bi].reshape(b_shape).copy()
            host.dW, host.dB = grads[wi].T.copy(), grads[bi].reshape(b_shape).copy()
            host.update(self.lr)
            params[wi][...] = np.asarray(host.w).T
            params[bi][...] = np.asarray(host.b).reshape(params[bi].shape)

    def zero_grad(self) -> None:
        self.module.zero_grad()


class CachedBackward(Adapter):
    binders = {
        "Linear": lambda m, names, profile: lambda *a, **k: Linear(getattr(m, names[0]), *a, **k),
        **{name: lambda m, names, profile: lambda: Cached(getattr(m, names[0])()) for name in ("ReLU", "Sigmoid", "Tanh")},
        "CrossEntropyLoss": lambda m, names, profile: lambda: SoftmaxNLL(getattr(m, names[0])),
        "SGD": lambda m, names, profile: lambda module, lr, **k: UpdateSGD(getattr(m, names[0]), module, lr, **k),
    }

    def detects(self, module: ModuleType) -> bool:
        classes = [v for v in vars(module).values() if inspect.isclass(v)]
        if super().detects(module):  # [detect] methods: NLLloss
            return True
        for c in classes:
            backward, update = getattr(c, "backward", None), getattr(c, "update", None)
            if callable(backward) and callable(update):
                try:
                    if len(inspect.signature(backward).parameters) == 2:  # self, dout
                        return True
                except (TypeError, ValueError):
                    continue
        return False
