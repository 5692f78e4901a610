"""The "write your own PyTorch" notebook style: `Module` with forward(input), backward(input, grad_output),
parameters(), grad_parameters(), train()/eval(); `Sequential(*layers)`; `Linear(dim_in, dim_out)`, `ReLU`,
`LeakyReLU(slope)`, `SoftMax`, `Dropout(p)`; criteria `MSE` (sum / batch size) and `CrossEntropy` on the SoftMax
OUTPUT (clipped probabilities) with ONE-HOT targets."""

from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any

import numpy as np

from harness.adapters.base import Adapter, Binding, Criterion, Delegated, NotExpressible

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

    def __init__(self, m: ModuleType) -> None:
        self.ce = m.CrossEntropy()
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

    def __init__(self, m: ModuleType) -> None:
        super().__init__(m)
        self.softmax = m.SoftMax()

    def _probs(self, input: np.ndarray, target: np.ndarray) -> Any:
        probs = self.softmax.forward(input)
        self._guard(probs, target, "CrossEntropyLoss on logits")
        return probs

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self.ce.forward(self._probs(input, target), _one_hot(input, target))

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        grad_probs = self.ce.backward(self._probs(input, target), _one_hot(input, target))
        return self.softmax.backward(input, grad_probs)


def _plain(course_name: str) -> Binding:
    return (course_name,), lambda m: lambda: ModuleLayer(getattr(m, course_name)())


class ModuleGrad(Adapter):
    name = STYLE
    signature = "defines Module classes with grad_parameters() and MSE / CrossEntropy / SoftMax"
    conventions = {
        "modules": "forward(input), backward(input, grad_output) (parameter gradients added into "
                   "grad_parameters()), parameters(), grad_parameters(), zero_grad(), train()/eval(), training: "
                   "the contract's own spelling, passed through",
        "names": "SoftMax, LogSoftMax, MSE as Softmax, LogSoftmax, MSELoss; Linear(dim_in, dim_out) with W "
                 "(out, in), LeakyReLU(slope), Dropout(p) (p = probability of zeroing) positional; Sequential(*layers)",
        "Linear(bias=False)": "the module's bias (its last parameter) is held at 0 and hidden from parameters()",
        "MSE": "sum of squares / batch size: loss and gradient multiplied by batch_size / numel (exactly torch's "
               "mean over all elements)",
        "CrossEntropyLoss": "SoftMax then CrossEntropy(probabilities, one-hot target); backward through "
                            "SoftMax.backward; integer targets converted to one-hot rows in the input's dtype. "
                            "CrossEntropy clips probabilities to [EPS, 1 - EPS] (EPS read from the criterion, "
                            "default 1e-15): a case whose target probability is below EPS is not expressible",
    }
    unexpressible = {
        "Conv2d": "the notebook has no convolution layer",
        "MaxPool2d": "the notebook has no pooling layer",
        "BatchNorm1d": "not mapped: the notebook's BatchNormalization differs from one course run to the next",
        "NLLLoss": "not exact: CrossEntropy clips probabilities at 1 - EPS, so on exp(log-probabilities) it is "
                   "flat above log-probability 0 (one class), where torch's NLLLoss is linear",
        "SGD": "not mapped: the notebook's optimizers are course-supplied functions, not the student's",
        "Adam": "not mapped: the notebook's optimizers are course-supplied functions, not the student's",
    }

    def bindings(self) -> dict[str, Binding]:
        return {
            "Linear": (("Linear",), lambda m: lambda in_features, out_features, bias=True:
                       ModuleLayer(m.Linear(in_features, out_features), drop_bias=not bias)),
            "ReLU": _plain("ReLU"), "Sigmoid": _plain("Sigmoid"), "Tanh": _plain("Tanh"), "Flatten": _plain("Flatten"),
            "Softmax": _plain("SoftMax"), "LogSoftmax": _plain("LogSoftMax"),
            "LeakyReLU": (("LeakyReLU",),
                          lambda m: lambda negative_slope=0.01: ModuleLayer(m.LeakyReLU(negative_slope))),
            "Dropout": (("Dropout",), lambda m: lambda p=0.5: ModuleLayer(m.Dropout(p))),
            "Sequential": (("Sequential",), lambda m: lambda *children:
                           ModuleLayer(m.Sequential(*(child.inner for child in children)))),
            "MSELoss": (("MSE",), lambda m: lambda: MeanSquared(m.MSE())),
            "CrossEntropyLoss": (("SoftMax", "CrossEntropy"), lambda m: lambda: CrossEntropyOnSoftMax(m)),
        }

    def detects(self, module: ModuleType) -> bool:
        classes = [v for v in vars(module).values() if inspect.isclass(v)]
        has_module = any(callable(getattr(c, "grad_parameters", None)) and callable(getattr(c, "backward", None))
                         for c in classes)
        own_names = any(inspect.isclass(getattr(module, n, None)) for n in ("MSE", "CrossEntropy", "SoftMax"))
        native_names = any(hasattr(module, n) for n in ("MSELoss", "CrossEntropyLoss"))
        return has_module and own_names and not native_names
