"""The module-grad driver ("write your own PyTorch" notebooks): `Module` with forward(input), backward(input,
grad_output), parameters(), grad_parameters(), train()/eval(); `Sequential(*layers)`; criteria `MSE` (sum / batch
size) and `CrossEntropy` on the SoftMax OUTPUT (clipped probabilities) with ONE-HOT targets. Names, constructor
arguments and conventions are the profile's (module-grad.toml)."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.base import Adapter, Binder, Criterion, Delegated
from nn_harness.sandbox.adapters.profile import NotExpressible, Profile

STYLE = "module-grad"
DEFAULT_EPS = 1e-15  # the notebook's CrossEntropy clips probabilities to [EPS, 1 - EPS]
EXACT_UPPER_CLIP = 1e-12  # clipping at 1 - EPS changes loss and gradient by ~EPS: negligible when EPS <= this


class ModuleLayer(Delegated):
    """A notebook module: its own method names are the contract's already."""

    def _all_parameters(self) -> list[np.ndarray]:
        return list(self.inner.parameters() or []) if hasattr(self.inner, "parameters") else []

    def _all_grad_parameters(self) -> list[np.ndarray]:
        return list(self.inner.grad_parameters() or []) if hasattr(self.inner, "grad_parameters") else []

    def _zero_grad(self) -> None:
        if callable(getattr(self.inner, "zero_grad", None)):
            self.inner.zero_grad()
        else:
            super()._zero_grad()

    def _set_training(self, mode: bool) -> None:
        self.inner.train() if mode else self.inner.eval()

    def _get_training(self) -> bool:
        return self.inner.training


def _one_hot(input: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.eye(input.shape[1], dtype=input.dtype)[target]


class MeanSquared(Criterion):
    """MSE (sum of squares / batch size) as torch's mean over all elements: loss and gradient times N / numel."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def _scale(self, value: Any, input: np.ndarray) -> Any:
        return value * (input.shape[0] / input.size)

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self._scale(self.inner.forward(input, target), input)

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        return self._scale(self.inner.backward(input, target), input)


class OnProbabilities(Criterion):
    """The notebook's CrossEntropy(probabilities, one-hot) under a native name; subclasses say where the
    probabilities come from. Exact while the clipping to [EPS, 1 - EPS] leaves the target entries alone: a target
    probability below EPS is refused as not expressible (the clipped loss is not torch's there)."""

    def __init__(self, m: ModuleType, names: tuple[str, ...]) -> None:
        self.ce = getattr(m, names[1])()
        self.eps = float(getattr(self.ce, "EPS", getattr(self.ce, "eps", DEFAULT_EPS)))

    def _guard(self, probs: Any, target: np.ndarray, what: str) -> None:
        if not isinstance(probs, np.ndarray) or probs.ndim != 2 or len(probs) != len(target):
            return  # a malformed result is the checks' business
        picked = probs[np.arange(len(target)), target]
        with np.errstate(invalid="ignore"):
            clipped = picked < self.eps
            if self.eps > EXACT_UPPER_CLIP:
                clipped |= picked > 1 - self.eps
        if np.any(clipped):
            raise NotExpressible(STYLE, f"{what} where a target probability is clipped to EPS = {self.eps:g} "
                                        "(CrossEntropy on clipped probabilities differs from torch's there)")


class CrossEntropyOnSoftMax(OnProbabilities):
    """CrossEntropyLoss (logits) = the notebook's SoftMax followed by its CrossEntropy (one-hot targets);
    backward = SoftMax.backward(logits, CrossEntropy.backward(probs, one_hot))."""

    def __init__(self, m: ModuleType, names: tuple[str, ...]) -> None:
        super().__init__(m, names)
        self.softmax = getattr(m, names[0])()

    def _probs(self, input: np.ndarray, target: np.ndarray) -> Any:
        probs = self.softmax.forward(input)
        self._guard(probs, target, "CrossEntropyLoss on logits")
        return probs

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self.ce.forward(self._probs(input, target), _one_hot(input, target))

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        grad_probs = self.ce.backward(self._probs(input, target), _one_hot(input, target))
        return self.softmax.backward(input, grad_probs)


def _module(layer: str) -> Binder:
    """A course module from the contract's constructor arguments ([constructors]); bias=False holds the module's
    bias (its last parameter) at 0 and hides it."""

    def binder(m: ModuleType, names: tuple[str, ...], profile: Profile) -> Any:
        def build(*args: Any, **kwargs: Any) -> ModuleLayer:
            course = getattr(m, names[0])
            here = profile.for_course(layer, course)  # its template year's constructor ([variants])
            drop_bias = "bias" not in here.constructors.get(layer, ()) and not kwargs.pop("bias", True)
            return ModuleLayer(course(*here.arguments(layer, args, kwargs, course)), drop_bias=drop_bias)
        return build
    return binder


class ModuleGrad(Adapter):
    binders = {
        **{name: _module(name) for name in ("Linear", "ReLU", "LeakyReLU", "ELU", "Softplus", "Sigmoid", "Tanh",
                                            "Flatten", "Softmax", "LogSoftmax", "Dropout")},
        "Sequential": lambda m, names, profile: lambda *children:
            ModuleLayer(getattr(m, names[0])(*(child.inner for child in children))),
        "MSELoss": lambda m, names, profile: lambda: MeanSquared(getattr(m, names[0])()),
        "CrossEntropyLoss": lambda m, names, profile: lambda: CrossEntropyOnSoftMax(m, names),
    }

    def detects(self, module: ModuleType) -> bool:
        classes = [v for v in vars(module).values() if inspect.isclass(v)]
        has_module = any(callable(getattr(c, "grad_parameters", None)) and callable(getattr(c, "backward", None))
                         for c in classes)
        return has_module and super().detects(module) and not any(hasattr(module, n) for n in ("MSELoss",
                                                                                               "CrossEntropyLoss"))
