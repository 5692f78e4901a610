"""The Torch7 driver (HSE / Yandex "practical_dl" homework and its snake_case variant): Module classes with
forward / backward(input, gradOutput) on top of updateOutput / updateGradInput / accGradParameters, parameter
getters, train()/evaluate(), *Criterion classes. The method and class names are the profile's (torch7.toml,
practical_dl.toml); this module says only how such modules are driven."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.base import (
    Adapter,
    Binder,
    Criterion,
    Delegated,
    flatten,
    in_shape_of,
    unbiased_running_var,
)
from nn_harness.sandbox.adapters.profile import Profile
from nn_harness.sandbox.student import returned


class Module(Delegated):
    """A torch7 module under the native contract, its methods named by the profile; parameters flattened."""

    def __init__(self, inner: Any, profile: Profile, *, drop_bias: bool = False) -> None:
        self.profile = profile
        super().__init__(inner, drop_bias=drop_bias)

    def _call(self, role: str, *args: Any) -> Any:
        return getattr(self.inner, self.profile.method(role))(*args)

    def _arrays(self, role: str) -> list[np.ndarray]:
        if not hasattr(self.inner, self.profile.method(role)):
            return []
        found = self._call(role)
        if role == "grad_parameters" and self.profile.rules.shapes == "allclose":
            found = _numbers_as_arrays(found)  # np.allclose takes a NumPy number (a bias's summed gradient) as well
        return flatten(found, what=f"{type(self.inner).__name__}.{self.profile.method(role)}()")

    def _all_parameters(self) -> list[np.ndarray]:
        return self._arrays("parameters")

    def _all_grad_parameters(self) -> list[np.ndarray]:
        grads = self._arrays("grad_parameters")
        if self.profile.rules.shapes != "allclose":
            return grads
        parameters = self._arrays("parameters")
        return [in_shape_of(grad, parameter) for grad, parameter in zip(grads, parameters)] + grads[len(parameters):]

    def _forward(self, input: np.ndarray) -> np.ndarray:
        for array in self._hidden:
            array[...] = 0
        return self._call("forward", input)

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return self._call("backward", input, grad_output)

    def _zero_grad(self) -> None:
        if hasattr(self.inner, self.profile.method("zero_grad")):
            self._call("zero_grad")

    def _set_training(self, mode: bool) -> None:
        self._call("train" if mode else "eval")

    def _get_training(self) -> bool:
        return self.inner.training


def _numbers_as_arrays(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_numbers_as_arrays(item) for item in value]
    return np.asarray(value) if isinstance(value, np.generic) else value


class Chain(Module):
    """Modules composed by the adapter itself (never through the student's Sequential, so a broken Sequential
    fails only Sequential's checks): forward in order, backward in reverse, parameters concatenated."""

    def __init__(self, children: list[Module]) -> None:
        self.children = children
        self._hidden = []

    def _forward(self, input: np.ndarray) -> np.ndarray:
        self._inputs = [input]
        for child in self.children:
            self._inputs.append(child.forward(self._inputs[-1]))
        return self._inputs[-1]

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        for child, x in zip(reversed(self.children), reversed(self._inputs[:-1])):
            grad_output = child.backward(x, grad_output)
        return grad_output

    def _all_parameters(self) -> list[np.ndarray]:
        return [p for child in self.children for p in child.parameters()]

    def _all_grad_parameters(self) -> list[np.ndarray]:
        return [g for child in self.children for g in child.grad_parameters()]

    def _zero_grad(self) -> None:
        for child in self.children:
            child.zero_grad()

    def _set_training(self, mode: bool) -> None:
        for child in self.children:
            child.train(mode)

    def _get_training(self) -> bool:
        return self.children[0].training


class BatchNorm(Chain):
    """BatchNorm1d as BatchNormalization(alpha = 1 - momentum) then ChannelwiseScaling (weight, bias), chained by
    the adapter, with the running statistics torch keeps (`running_mean`, `running_var`) as live arrays converted
    exactly."""

    def __init__(self, m: ModuleType, profile: Profile, names: tuple[str, ...], num_features: int, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        norm_class, scale_class = (getattr(m, name) for name in names)
        self.norm = norm_class(1.0 - momentum)
        self.norm.EPS, self.keep = eps, 1.0 - momentum
        self.norm.moving_mean, self.running_var = np.zeros(num_features), np.ones(num_features)
        self.norm.moving_variance = self.running_var.copy()
        self.allclose = profile.rules.shapes == "allclose"
        super().__init__([Module(self.norm, profile), Module(scale_class(num_features), profile)])

    @property
    def running_mean(self) -> np.ndarray:
        """The course module's own moving mean (torch's running mean, alpha = 1 - momentum): live, so it is right
        inside the student's Sequential too, where this wrapper's forward does not run. Under rules.shapes =
        "allclose" one kept as (1, C) reads as (C,), as the course's own test compares it."""
        mean = self.norm.moving_mean
        return in_shape_of(mean, self.running_var) if self.allclose and isinstance(mean, np.ndarray) else mean

    def _forward(self, input: np.ndarray) -> np.ndarray:
        old_var = self.running_var.copy()
        self.norm.moving_mean, self.norm.moving_variance = np.array(self.running_mean, dtype=float), old_var.copy()
        output = super()._forward(input)
        if self.training:
            self.running_var[...] = unbiased_running_var(old_var, self.norm.moving_variance, self.keep, len(input))
        return output


class CriterionWrapper(Criterion):
    """A torch7 criterion; `one_hot` converts integer targets, `per_element` turns a per-sample mean (sum / N)
    into torch's mean over all elements."""

    def __init__(self, inner: Any, profile: Profile, *, one_hot: bool = False, per_element: bool = False) -> None:
        self.inner, self.profile, self.one_hot, self.per_element = inner, profile, one_hot, per_element

    def _target(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.eye(input.shape[1], dtype=input.dtype)[target] if self.one_hot else target

    def _scale(self, value: Any, input: np.ndarray) -> Any:
        return value * (input.shape[0] / input.size) if self.per_element else value

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        name = self.profile.method("forward")
        value = getattr(self.inner, name)(input, self._target(input, target))
        return self._scale(returned(f"{type(self.inner).__name__}.{name}", value, "a number"), input)

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        name = self.profile.method("backward")
        value = getattr(self.inner, name)(input, self._target(input, target))
        return self._scale(returned(f"{type(self.inner).__name__}.{name}", value, "an array"), input)


def _cross_entropy(m: ModuleType, names: tuple[str, ...], profile: Profile) -> Any:
    """The course's own cross-entropy criterion on logits and one-hot targets (one name), or LogSoftmax followed by
    the NLL criterion (two names), composed by the adapter."""
    if len(names) == 1:
        return lambda: CriterionWrapper(getattr(m, names[0])(), profile, one_hot=True)
    return lambda: CrossEntropy(m, profile, names)


class CrossEntropy(Criterion):
    """LogSoftmax followed by the NLL criterion, composed by the adapter."""

    def __init__(self, m: ModuleType, profile: Profile, names: tuple[str, ...]) -> None:
        log_softmax, nll = (getattr(m, name) for name in names)
        self.log_softmax = Module(log_softmax(), profile)
        self.nll = CriterionWrapper(nll(), profile, one_hot=True)

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self.nll.forward(self.log_softmax.forward(input), target)

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        log_probs = self.log_softmax.forward(input)
        return self.log_softmax.backward(input, self.nll.backward(log_probs, target))


def _module(layer: str) -> Binder:
    """A course module built from the contract's constructor arguments ([constructors]); bias=False, where the
    course constructor has no bias argument, holds the module's bias at 0 and hides it."""

    def binder(m: ModuleType, names: tuple[str, ...], profile: Profile) -> Any:
        def build(*args: Any, **kwargs: Any) -> Module:
            course = getattr(m, names[0])
            here = profile.for_course(layer, course)  # its template year's constructor ([variants])
            drop_bias = "bias" not in here.constructors.get(layer, ()) and not kwargs.pop("bias", True)
            return Module(course(*here.arguments(layer, args, kwargs, course)), profile, drop_bias=drop_bias)
        return build
    return binder


def _sequential(m: ModuleType, names: tuple[str, ...], profile: Profile) -> Any:
    def build(*children: Module) -> Module:
        inner = getattr(m, names[0])()
        for child in children:  # a module the adapter composes (BatchNorm1d) goes in as its course modules
            for course_module in ([c.inner for c in child.children] if isinstance(child, Chain) else [child.inner]):
                getattr(inner, profile.method("add"))(course_module)
        return Module(inner, profile)
    return build


def _criterion(**how: bool) -> Binder:
    return lambda m, names, profile: lambda: CriterionWrapper(getattr(m, names[0])(), profile, **how)


class Torch7(Adapter):
    binders = {
        **{name: _module(name) for name in ("Linear", "Conv2d", "MaxPool2d", "ReLU", "LeakyReLU", "ELU", "Softplus",
                                            "Sigmoid", "Tanh", "Flatten", "Softmax", "LogSoftmax", "Dropout")},
        "Sequential": _sequential,
        "BatchNorm1d": lambda m, names, profile: lambda *a, **k: BatchNorm(m, profile, names, *a, **k),
        "MSELoss": _criterion(per_element=True),
        "NLLLoss": _criterion(one_hot=True),
        "ProbabilityNLLLoss": _criterion(one_hot=True),
        "CrossEntropyLoss": _cross_entropy,
    }

    def stand_in(self, module: ModuleType, course_name: str) -> Any | None:
        """The template's Flatten, on the submission's own Module base, for a template year without one (2018: its
        driver notebook flattened the images itself, so a model built with a Flatten needs the course's)."""
        base = getattr(module, "Module", None)
        if course_name != self.profile.names.get("Flatten", ("",))[0] or not isinstance(base, type):
            return None

        def forward(layer: Any, input: np.ndarray) -> np.ndarray:
            layer.output = input.reshape(len(input), -1)
            return layer.output

        def backward(layer: Any, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
            layer.gradInput = grad_output.reshape(input.shape)
            return layer.gradInput

        return type(course_name, (base,), {self.profile.method("forward"): forward,
                                           self.profile.method("backward"): backward,
                                           "__doc__": "course-supplied (the harness's copy of the template's)"})
