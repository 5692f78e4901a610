"""A drawn case (layer arguments, input, seed, mode) and the layer and twin built from it."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from hypothesis import strategies as st

import reference
from nn_harness.cases import strategies as s
from nn_harness.cases.registry import LayerSpec
from nn_harness.cases.returned import strict_array
from nn_harness.sandbox.client import pipelined, resolved
from nn_harness.sandbox.student import CheckFailure, call, later, method


@dataclass(frozen=True)
class LayerCase:
    """Everything one example needs; the repr is what a failure shows (shapes and arguments, never arrays)."""

    spec: LayerSpec
    args: dict
    x: np.ndarray  # the first input (the batch is its axis 0)
    seed: int  # parameter values and the upstream gradient come from here
    mode: str  # "train" or "eval"
    state: tuple[np.ndarray, ...] = ()  # the further inputs of a layer that takes several (spec.input_names)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        shown = [f"{'' if i == 0 else name + ' '}{a.dtype} {a.shape} (values in [{a.min():.4g}, {a.max():.4g}])"
                 for i, (name, a) in enumerate(zip(self.spec.input_names, self.inputs))]
        return f"{self.spec.name}({args}) in {self.mode} mode on input {', '.join(shown)}"

    @property
    def inputs(self) -> tuple[np.ndarray, ...]:
        """Every input, in the order forward takes them."""
        return (self.x, *self.state)

    def mapped(self, change: Callable[[np.ndarray], np.ndarray]) -> LayerCase:
        """This case with `change` applied to every input (another batch, other values, another dtype)."""
        return replace(self, x=change(self.x), state=tuple(change(a) for a in self.state))

    def upstream(self, shapes: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, ...]:
        """A random (never all-ones: that hides bugs) gradient w.r.t. each output, of these shapes."""
        return tuple(np.random.default_rng([self.seed, 1, *([k] if k else [])]).standard_normal(shape)
                     for k, shape in enumerate(shapes))

    @property
    def random(self) -> bool:
        """In a mode where the layer draws at random (Dropout's training mask): no value can be compared with torch."""
        return self.mode in self.spec.random_modes

    @property
    def factors(self) -> dict[str, float]:
        """Constants a known mistake would be off by, for hints."""
        factors = {"the batch size": float(self.x.shape[0]), "the number of elements": float(self.x.size)}
        if self.spec.sequence:
            factors["the sequence length"] = float(self.x.shape[1])
        return factors


@st.composite
def layer_cases(draw: st.DrawFn, spec: LayerSpec, *, modes: tuple[str, ...] | None = None) -> LayerCase:
    args = draw(spec.configs, label="arguments")
    drawn = draw(spec.inputs(args), label="input")
    x, *state = drawn if isinstance(drawn, tuple) else (drawn,)
    # Inputs the course holds at zero (a profile's narrowing: LayerSpec.zero_inputs); the first is never one.
    state = [np.zeros_like(a) if name in spec.zero_inputs else a for name, a in zip(spec.input_names[1:], state)]
    seed = draw(s.seeds(), label="parameter seed")
    mode = draw(st.sampled_from(modes or spec.modes), label="mode")
    return LayerCase(spec, args, x, seed, mode, tuple(state))


def any_mode_cases(spec: LayerSpec) -> st.SearchStrategy[LayerCase]:
    """Cases in the random modes too, for the checks that need no value of the twin's (see `LayerCase.random`)."""
    return layer_cases(spec, modes=(*spec.modes, *spec.random_modes))


@dataclass
class Built:
    """The implementation's layer holding the case's parameter values; its torch twin is built when first asked for
    (a twin's results for a case are most often known already: `truth`)."""

    layer: Any
    case: LayerCase
    names: list[str]  # torch's parameter names, e.g. ["weight", "bias"]
    values: list[np.ndarray]  # the parameter values written into both
    buffers: dict[str, np.ndarray]  # initial buffer values (e.g. running statistics) written into both

    @functools.cached_property
    def twin(self) -> Any:
        return _twin(self.case)


def parameter_list(layer: Any, getter: str, case: LayerCase, names: list[str], shapes: list[tuple]) -> list[np.ndarray]:
    """`layer.parameters()` or `layer.grad_parameters()`, checked strictly against the twin's parameters."""
    owner = case.spec.name
    return checked_parameter_list(call(f"{owner}.{getter}()", method(layer, getter, owner)), owner, getter, names,
                                  shapes)


def checked_parameter_list(got: Any, owner: str, getter: str, names: list[str], shapes: list[tuple]) -> list[np.ndarray]:
    """What `owner.getter()` returned, when it is a list of arrays of the twin's parameter shapes."""
    if not isinstance(got, (list, tuple)):
        raise CheckFailure(f"{owner}.{getter}() must return a list of arrays, got {type(got).__name__}")
    if len(got) != len(names):
        expected = ", ".join(f"{n} {tuple(sh)}" for n, sh in zip(names, shapes)) or "nothing"
        raise CheckFailure(f"{owner}.{getter}() returned {len(got)} arrays; torch's {owner} has {len(names)}: {expected}")
    for array, name, shape in zip(got, names, shapes):
        if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
            strict_array(array, what=f"{owner}.{getter}() entry for {name}", shape=tuple(shape),
                         dtype=getattr(array, "dtype", np.float64))
    return list(got)


def _twin(case: LayerCase) -> Any:
    return case.spec.make(reference.nn, case.args).double()


def _arguments(case: LayerCase) -> tuple:
    """What builds the twin: the spec's way of building it (its class name, or its `build`) and the arguments."""
    return case.spec.name, case.spec.build, repr(sorted(case.args.items()))


_SHAPES: dict[tuple, list[tuple[str, tuple[int, ...]]]] = {}  # _arguments -> the twin's parameters' names and shapes


def drawn_values(case: LayerCase) -> tuple[list[str], list[np.ndarray], dict[str, np.ndarray]]:
    """The twin's parameter names, and the case's parameter and buffer values (drawn from its seed)."""
    key = _arguments(case)
    if key not in _SHAPES:
        _SHAPES[key] = [(name, tuple(p.shape)) for name, p in _twin(case).named_parameters()]
    rng = np.random.default_rng([case.seed, 0])
    values = [rng.uniform(-1.0, 1.0, shape) for _, shape in _SHAPES[key]]
    buffers = case.spec.buffers(rng, case.args) if case.spec.buffers else {}
    return [name for name, _ in _SHAPES[key]], values, buffers


def twin_of(case: LayerCase) -> tuple[Any, list[str], list[np.ndarray], dict[str, np.ndarray]]:
    """The torch twin, its parameter names, and the case's parameter and buffer values (drawn from its seed)."""
    return _twin(case), *drawn_values(case)


def build(impl: Any, case: LayerCase) -> Built:
    """Construct the layer from the implementation and its twin, and give both the case's parameters."""
    spec = case.spec
    names, values, buffers = drawn_values(case)
    shapes = [v.shape for v in values]
    what = f"constructing {case!r}"
    with pipelined(impl, what):  # the constructor goes with parameters(): one round trip
        layer = call(what, spec.make, impl, case.args)
    # Written in place: parameters() must hand out the live arrays an optimizer would update. The twin gets the
    # values as stored (an implementation may keep float32 parameters), read back from the very same arrays.
    arrays = parameter_list(layer, "parameters", case, names, shapes)
    layer = resolved(layer)
    for array, value in zip(arrays, values):
        array[...] = value
    values = [np.array(array, dtype=np.float64) for array in arrays]
    for name, value in buffers.items():
        current = getattr(layer, name, None)
        if not isinstance(current, np.ndarray) or current.shape != value.shape:
            raise CheckFailure(f"{spec.name} must keep {name} as an array attribute of shape {value.shape}, like torch")
        current[...] = value
    # Their results are not used: they go with the next request (the check's first forward).
    later(f"{spec.name}.zero_grad()", method(layer, "zero_grad", spec.name))
    later(f"{spec.name}.{case.mode}()", method(layer, case.mode, spec.name))
    return Built(layer, case, names, values, buffers)


class Truths:
    """What the twins computed, by case, for one grading run: the checks of a layer draw the same derandomized cases
    (a run of impl/ needs 1,944 results of 654 cases). Kept on this side only, keyed by the case's bytes and the
    parameter values as the layer stored them; the arrays are read-only, so no check can change what another is
    given. Not across a class: a warm grader forks each run (nn_harness/run/warm_grader.py), and a key that held
    across processes would have to name the spec's `build`, which a course variant makes as a closure."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.results: OrderedDict[tuple, reference.TwinResult] = OrderedDict()  # least recently used first

    def __call__(self, built: Built, case: LayerCase) -> reference.TwinResult:
        key = (_arguments(case), case.mode, case.seed, _bytes(case.inputs), _bytes(built.values),
               tuple((name, *_bytes((value,))) for name, value in built.buffers.items()))
        found = self.results.get(key)
        if found is None:
            found = _read_only(reference.run_layer(built.twin, built.values, case.inputs, case.upstream,
                                                   training=case.mode == "train", buffers=built.buffers))
            self.results[key] = found
            if len(self.results) > self.size:
                self.results.popitem(last=False)
        else:
            self.results.move_to_end(key)
        return found


def _bytes(arrays: Any) -> tuple:
    return tuple((a.dtype.str, a.shape, a.tobytes()) for a in arrays)


def _read_only(result: reference.TwinResult) -> reference.TwinResult:
    arrays = [*result.outputs, *result.grad_outputs, *result.grad_inputs, *result.grad_parameters.values(),
              *result.buffers.values()]
    for array in arrays:
        if array is not None:
            array.flags.writeable = False
    return result


truth = Truths(4096)  # what torch computes for a case: truth(built, case)
