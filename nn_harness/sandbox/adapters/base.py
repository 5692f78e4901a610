"""What every adapter shares: the Adapter (driver) class, the namespace it returns, and the layer wrappers.

An adapter turns a submission written in some course's conventions into a namespace that spells the native
contract (docs/contract.md): `ns.Linear(in_features, out_features, bias=True)` and so on. It binds what its profile
maps (profile.names) from what the submission defines. A name the profile declares unexpressible is not graded; a
mapped name whose course code the submission lacks is "not implemented", with the reason in `ns.__missing__`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.profile import Profile
from nn_harness.sandbox.student import CheckFailure, describe


class Namespace:
    """The object the checks use as `nn`: the contract's names, bound to wrappers around the submission."""

    def __init__(self, module: ModuleType, profile: Profile, members: Mapping[str, Any], missing: Mapping[str, str],
                 stand_ins: Mapping[str, str] | None = None):
        self.__dict__.update(members)
        self.__file__ = getattr(module, "__file__", None)
        self.__name__ = f"{getattr(module, '__name__', 'submission')} (api {profile.name})"
        self.__profile__ = profile
        self.__module__ = module
        self.__missing__ = dict(missing)  # contract name -> which course names the submission lacks
        self.__stand_ins__ = dict(stand_ins or {})  # contract name -> the course code the driver supplied for it

    def __repr__(self) -> str:
        return f"<namespace {self.__name__}: {', '.join(sorted(k for k in self.__dict__ if not k.startswith('_')))}>"


# A binder: given the submission and the course names the profile maps to one contract name (profile.names),
# the contract's constructor (a callable with torch.nn's signature) building a wrapper around the course code.
Binder = Callable[[ModuleType, tuple[str, ...], Profile], Callable[..., Any]]


class Adapter:
    """The code that drives one family of course styles (a *driver*); what varies between the courses of a family
    (names, method names, conventions, narrowing, rules in scope) is data, in the profile it is built from.
    Subclasses set `binders` (contract name -> Binder) and may refine `detects`."""

    binders: Mapping[str, Binder] = {}

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def signature(self) -> str:
        return self.profile.signature

    @property
    def conventions(self) -> Mapping[str, str]:
        return self.profile.conventions

    def detects(self, module: ModuleType) -> bool:
        return self.fingerprints(module) > 0

    def fingerprints(self, module: ModuleType) -> int:
        """How many of the profile's [detect] names the module defines: a class, a function, or a method of some
        class (names unique to the course's template: its fingerprints)."""
        detect = self.profile.detect
        values = vars(module)
        classes = [v for v in values.values() if inspect.isclass(v)]
        return (sum(inspect.isclass(values.get(n)) for n in detect.get("classes", ()))
                + sum(inspect.isfunction(values.get(n)) for n in detect.get("functions", ()))
                + sum(any(callable(getattr(c, n, None)) for c in classes) for n in detect.get("methods", ())))

    def stand_in(self, module: ModuleType, course_name: str) -> Any | None:
        """The course's own code for `course_name`, a course-supplied or [optional] name the submission lacks: a
        template year that had none (its driver code did the work), or None when the driver knows no such code."""
        return None

    def namespace(self, module: ModuleType) -> Any:
        members, missing, stand_ins = {}, {}, {}
        for name, course in self.profile.names.items():
            binder = self.binders.get(name)
            if binder is None:
                continue  # validated when the adapter is built
            absent = [need for need in course if not hasattr(module, need)]
            source: Any = module
            # Course-supplied code, or an [optional] layer not in the submission's template (not graded itself), that
            # the driver knows: the course's own stands in, so the checks of models built with it still run.
            if absent and (name in self.profile.supplied or name in self.profile.optional):
                found = {need: self.stand_in(module, need) for need in absent}
                if all(code is not None for code in found.values()):
                    source, absent = _Supplemented(module, found), []
                    why = "course-supplied" if name in self.profile.supplied else "not in its template"
                    stand_ins[name] = f"the submission has no {', '.join(found)} ({why}): the template's own"
            if absent:
                missing[name] = f"{self.name} builds it from {', '.join(course)}; missing {', '.join(absent)}"
            else:
                members[name] = binder(source, course, self.profile)
        return Namespace(module, self.profile, members, missing, stand_ins)


class _Supplemented:
    """The submission's module with the course code the driver supplies for names it lacks (Adapter.stand_in)."""

    def __init__(self, module: ModuleType, supplied: Mapping[str, Any]) -> None:
        self._module, self._supplied = module, dict(supplied)

    def __getattr__(self, name: str) -> Any:
        return self._supplied[name] if name in self._supplied else getattr(self._module, name)


def flatten(items: Any, *, what: str) -> list[np.ndarray]:
    """Arrays from nested lists (a torch7 Sequential returns one list per child); anything else is the student's
    method's mistake, reported as such: `what` names the method, and the message shows all it returned."""
    def arrays(value: Any) -> list[np.ndarray]:
        if isinstance(value, np.ndarray):
            return [value]
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise CheckFailure(f"{what} returned {describe(items)}; expected a list of parameter arrays")
        return [array for item in value for array in arrays(item)]

    return arrays(items)


class Layer:
    """A native-contract layer around course code. Subclasses implement the hooks below; this class adds the
    contract's spelling (forward/backward/parameters/grad_parameters/zero_grad/train/eval/training)."""

    # ---- hooks (a layer with several inputs, a recurrent one's initial state, takes them after `input`, and its
    # backward takes every input, then every output's gradient: `rest`)
    def _forward(self, input: np.ndarray, *state: np.ndarray) -> Any:
        raise NotImplementedError

    def _backward(self, input: np.ndarray, *rest: np.ndarray) -> Any:
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
    def forward(self, input: np.ndarray, *state: np.ndarray) -> Any:
        return self._forward(input, *state)

    def __call__(self, input: np.ndarray, *state: np.ndarray) -> Any:
        return self.forward(input, *state)

    def backward(self, input: np.ndarray, *rest: np.ndarray) -> Any:
        return self._backward(input, *rest)

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


def in_shape_of(array: np.ndarray, like: np.ndarray) -> np.ndarray:
    """An array of `like`'s size in fewer dimensions (a (1,) bias's gradient as ()) or with extra leading axes of one
    (a moving mean kept with keepdims=True as (1, C)), as np.allclose would compare it: a view in `like`'s shape (the
    same memory: what the checks write into it reaches the course's array)."""
    if array.shape == like.shape or array.size != like.size:
        return array
    if array.ndim < like.ndim or array.shape[array.ndim - like.ndim:] == like.shape:
        return array.reshape(like.shape)
    return array
