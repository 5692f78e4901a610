"""Forward-only layers called as functions: Chollet's NaiveDense / NaiveSequential (Deep Learning with Python, 2nd
ed., ch. 2) ported to NumPy. `NaiveDense(input_size, output_size, activation)` computes activation(x @ W + b) in
`__call__`, with W (in, out) and b (out,) listed by a `weights` property ([W, b]); `NaiveSequential(layers)` calls
its layers in turn and lists their weights in order. The activations are plain functions (`relu`, `softmax`: the
book's tf.nn.relu and tf.nn.softmax). Nothing has a backward (the book differentiates with tf.GradientTape), so the
profile grades the forward checks only (rules.backward = false) and a backward is not expressible."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.base import Adapter, Layer, uniform
from nn_harness.sandbox.adapters.profile import NotExpressible
from nn_harness.sandbox.student import CheckFailure, describe

STYLE = "naive-dense"


def identity(x: np.ndarray) -> np.ndarray:
    """The activation a NaiveDense is built with to be a Linear."""
    return x


def relu(x: np.ndarray) -> np.ndarray:
    """What the book's tf.nn.relu computes: the stand-in for a port that writes no relu of its own."""
    return np.maximum(x, 0)


class Forward(Layer):
    """A course callable with a forward only: `inner(x)`; `name` is the course's, for messages."""

    def __init__(self, inner: Any, name: str) -> None:
        self.inner, self.name = inner, name

    def _forward(self, input: np.ndarray) -> Any:
        return self.inner(input)

    def _backward(self, input: np.ndarray, *rest: np.ndarray) -> Any:
        raise NotExpressible(STYLE, f"{self.name}'s backward (the book's layers are forward only: it "
                                        "differentiates them with tf.GradientTape)")

    @property
    def weights(self) -> list[Any]:
        """What a NaiveSequential holding this layer adds to its own weights: an activation has none."""
        return []


class Dense(Forward):
    """Linear as NaiveDense(in, out, identity). The wrapper owns the live (out, in) weight and (out,) bias; at
    construction the layer's own W and b attributes (the arrays its `weights` property lists) are replaced by
    weight.T (a view) and the bias (zeros, hidden from parameters(), for bias=False), so the layer computes with
    whatever values the checks write into parameters()."""

    def __init__(self, course: Any, name: str, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(course(in_features, out_features, identity), name)
        self.weight = uniform((out_features, in_features), in_features)
        self.bias = uniform((out_features,), in_features) if bias else None
        held = self.bias if self.bias is not None else np.zeros(out_features)
        self._rebind({(in_features, out_features): self.weight.T, (out_features,): held})

    def _listed(self) -> list[Any]:
        listed = self.inner.weights
        if not isinstance(listed, list | tuple) or len(listed) != 2 \
                or not all(isinstance(array, np.ndarray) for array in listed):
            raise CheckFailure(f"{self.name}.weights returned {describe(listed)}; expected [W, b], two arrays")
        return list(listed)

    def _rebind(self, live: dict[tuple[int, ...], np.ndarray]) -> None:
        for current, (shape, array) in zip(self._listed(), live.items()):
            if current.shape != shape:
                raise CheckFailure(f"{self.name}.weights returned an array of shape {current.shape} where the book's "
                                   f"layout is {shape} (W is (input_size, output_size), b is (output_size,))")
            attribute = next((key for key, value in vars(self.inner).items() if value is current), None)
            if attribute is None:
                raise CheckFailure(f"{self.name}.weights returned an array that is none of its attributes (a copy?): "
                                   "it must list the very arrays __call__ computes with")
            setattr(self.inner, attribute, array)
        if [id(a) for a in self._listed()] != [id(a) for a in live.values()]:
            raise CheckFailure(f"{self.name}.weights does not list the arrays __call__ computes with")

    @property
    def weights(self) -> list[Any]:
        return self._listed()

    def _parameters(self) -> list[np.ndarray]:
        return [self.weight] if self.bias is None else [self.weight, self.bias]


class Sequence(Forward):
    """Sequential as NaiveSequential([layers]) holding the wrappers of its layers; parameters() are theirs, in order,
    and its own `weights` property must list their weights in the same order (checked whenever they are read)."""

    def __init__(self, course: Any, name: str, *layers: Any) -> None:
        self.layers = list(layers)
        super().__init__(course(self.layers), name)

    def _parameters(self) -> list[np.ndarray]:
        listed, expected = self.inner.weights, [w for layer in self.layers for w in layer.weights]
        if not isinstance(listed, list | tuple) or [id(w) for w in listed] != [id(w) for w in expected]:
            raise CheckFailure(f"{self.name}.weights returned {describe(listed)}; expected the weights of its layers "
                               f"in order ({len(expected)} arrays: W and b of each dense layer)")
        return [p for layer in self.layers for p in layer.parameters()]


def _bound(wrapper: type[Forward]) -> Any:
    """A binder: the contract's constructor building `wrapper` around the course's callable."""
    return lambda m, names, profile: lambda *a, **k: wrapper(getattr(m, names[0]), names[0], *a, **k)


class ForwardOnly(Adapter):
    binders = {
        "Linear": _bound(Dense),
        "Sequential": _bound(Sequence),
        "ReLU": lambda m, names, profile: lambda: Forward(getattr(m, names[0]), names[0]),
        "Softmax": lambda m, names, profile: lambda: Forward(getattr(m, names[0]), names[0]),
    }

    def stand_in(self, module: ModuleType, course_name: str) -> Any | None:
        """The book's tf.nn.relu, as NumPy, where a port passes its activation inline (a lambda) and defines no relu:
        so its NaiveSequential still has an activation for the Sequential check."""
        return relu if course_name == self.profile.names.get("ReLU", ("",))[0] else None
