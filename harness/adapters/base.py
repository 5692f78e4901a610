"""What every adapter shares: the Adapter class, the namespace it returns, and the native-contract layer wrapper.

An adapter turns a submission written in some course's conventions into a namespace that spells the native
contract (docs/contract.md): `ns.Linear(in_features, out_features, bias=True)` and so on. It binds only what the
style can express from what the submission defines; everything else stays missing, and the harness reports it
"not implemented" with the reason kept in `ns.__unexpressed__`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

import numpy as np


class NotExpressible(Exception):
    """Raised for constructor arguments (or a mode) the course style cannot express; the check reports it."""

    def __init__(self, style: str, what: str) -> None:
        super().__init__(f"{what}: not expressible in {style} style")


class Namespace:
    """The object the checks use as `nn`: the contract's names, bound to wrappers around the submission."""

    def __init__(self, module: ModuleType, api: str, members: Mapping[str, Any], unexpressed: Mapping[str, str],
                 restrict: Mapping[str, Mapping[str, Any]] | None = None):
        self.__dict__.update(members)
        self.__file__ = getattr(module, "__file__", None)
        self.__name__ = f"{getattr(module, '__name__', 'submission')} (api {api})"
        self.__api__ = api
        self.__module__ = module
        self.__unexpressed__ = dict(unexpressed)  # contract name -> why the style cannot express it here
        self.__restrict__ = dict(restrict or {})  # contract name -> registry spec fields narrowed to the style

    def __repr__(self) -> str:
        return f"<namespace {self.__name__}: {', '.join(sorted(k for k in self.__dict__ if not k.startswith('_')))}>"


# A binding: the submission's names it needs, and a factory that, given the submission, returns the contract's
# constructor (a callable with torch.nn's signature).
Binding = tuple[tuple[str, ...], Callable[[ModuleType], Callable[..., Any]]]


class Adapter:
    """One course style. Subclasses set `name`, `conventions`, `signature`, `bindings` and `detects`."""

    name: str = "?"
    signature: str = ""  # why auto-detection picks this style, for the report header
    conventions: Mapping[str, str] = {}  # every convention the adapter converts: topic -> how
    unexpressible: Mapping[str, str] = {}  # contract name -> why this style can never express it
    # contract name -> LayerSpec fields to replace (e.g. `configs`: only constructor arguments the style can state),
    # so a correct submission is graded on what its style expresses; declare the narrowing in `conventions` too
    restrictions: Mapping[str, Mapping[str, Any]] = {}

    def bindings(self) -> Mapping[str, Binding]:
        """Contract name -> (submission names needed, factory). Names absent here are never expressible."""
        return {}

    def detects(self, module: ModuleType) -> bool:
        return False

    def namespace(self, module: ModuleType) -> Any:
        members, unexpressed = {}, dict(self.unexpressible)
        for name, (needs, factory) in self.bindings().items():
            missing = [need for need in needs if not hasattr(module, need)]
            if missing:
                unexpressed[name] = f"{self.name} style builds it from {', '.join(needs)}; missing {', '.join(missing)}"
            else:
                members[name] = factory(module)
        return Namespace(module, self.name, members, unexpressed,
                         {name: fields for name, fields in self.restrictions.items() if name in members})


def flatten(items: Any) -> list[np.ndarray]:
    """Arrays from nested lists (a torch7 Sequential returns one list per child)."""
    if isinstance(items, np.ndarray):
        return [items]
    if items is None:
        return []
    return [array for item in items for array in flatten(item)]


class Layer:
    """A native-contract layer around course code. Subclasses implement the hooks below; this class adds the
    contract's spelling (forward/backward/parameters/grad_parameters/zero_grad/train/eval/training)."""

    # ---- hooks
    def _forward(self, input: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _parameters(self) -> Iterable[np.ndarray]:
        return []

    def _grad_parameters(self) -> Iterable[np.ndarray]:
        return []

    def _zero_grad(self) -> None:
        for grad in self.grad_parameters():
            grad.fill(0)

    def _set_training(self, mode: bool) -> None:
        self._training = mode

    def _get_training(self) -> bool:
        return getattr(self, "_training", True)

    # ---- the contract
    def forward(self, input: np.ndarray) -> np.ndarray:
        return self._forward(input)

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return self.forward(input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return self._backward(input, grad_output)

    def parameters(self) -> list[np.ndarray]:
        return list(self._parameters())

    def grad_parameters(self) -> list[np.ndarray]:
        return list(self._grad_parameters())

    def zero_grad(self) -> None:
        self._zero_grad()

    def train(self, mode: bool = True) -> Layer:
        self._set_training(bool(mode))
        return self

    def eval(self) -> Layer:
        return self.train(False)

    @property
    def training(self) -> bool:
        return self._get_training()


class Delegated(Layer):
    """A course module that already runs forward / backward(input, grad_output) itself: the wrapper delegates.
    `drop_bias` holds the module's last parameter (its bias) at 0 and hides it from parameters() /
    grad_parameters(), for torch's bias=False. Subclasses say how the module lists its arrays."""

    def __init__(self, inner: Any, *, drop_bias: bool = False) -> None:
        self.inner = inner
        self._hidden = self._all_parameters()[-1:] if drop_bias else []

    def _all_parameters(self) -> list[np.ndarray]:
        raise NotImplementedError

    def _all_grad_parameters(self) -> list[np.ndarray]:
        raise NotImplementedError

    def _visible(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        return arrays[: len(arrays) - len(self._hidden)]

    def _forward(self, input: np.ndarray) -> np.ndarray:
        for array in self._hidden:
            array[...] = 0
        return self.inner.forward(input)

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return self.inner.backward(input, grad_output)

    def _parameters(self) -> list[np.ndarray]:
        return self._visible(self._all_parameters())

    def _grad_parameters(self) -> list[np.ndarray]:
        return self._visible(self._all_grad_parameters())


class Criterion:
    """A native-contract criterion: forward(input, target) -> float, backward(input, target) -> grad_input."""

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        raise NotImplementedError

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self._forward(input, target)

    def __call__(self, input: np.ndarray, target: np.ndarray) -> Any:
        return self.forward(input, target)

    def backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        return self._backward(input, target)


def pair(value: int | Iterable[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(int(v) for v in value)  # type: ignore[return-value]


def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """torch's default initialisation (the harness overwrites the values anyway)."""
    bound = 1.0 / np.sqrt(max(fan_in, 1))
    return np.random.default_rng().uniform(-bound, bound, size=shape)


def unbiased_running_var(old: np.ndarray, updated_biased: np.ndarray, keep: float, n: int) -> np.ndarray:
    """Exact conversion of a running-variance update made with the BIASED batch variance,
    `updated = keep * old + (1 - keep) * var_biased`, into torch's `keep * old + (1 - keep) * var_biased * n/(n-1)`."""
    return keep * old + (np.asarray(updated_biased, dtype=np.float64) - keep * old) * (n / (n - 1))
