"""The objects driver: course layers as objects, `forward(x)` caching what `backward(dout [, learning_rate])` needs.
One driver for the course styles of that family; what varies between them is the profile's data:

  [names]        contract name -> the course's class (a criterion: its function(s) or class)
  [constructors] contract name -> the course constructor's arguments, in its order: contract arguments
                 (in_features, out_features, out_channels, p, negative_slope, ...; kernel_size, stride and padding
                 as ONE number for both axes), kernel_height / kernel_width (and stride_*, padding_* likewise),
                 input_shape (the shape of one input sample: the course object is then built at the first forward,
                 one per input shape) and output_shape (one sample flattened: (k, 1) for column-vector samples)
  [methods]      forward, backward: the course's method names
  [options]      gradients_from     "returned": backward(dout) -> (dX, [dW, db]) (the gradients of that call);
                                    "stored": backward(dout) -> dX, each parameter's gradient read after it (its
                                    dict's grad_key); "update": backward(dout, learning_rate) -> dX, the parameters
                                    updated in place by SGD, the gradient recovered from the update
                 batch              true: the layers take the batch; false: one sample at a time (the wrapper
                                    loops over the batch and stacks, re-running each sample's forward before its
                                    backward since a course layer caches the latest sample only)
                 sample_vector      "column": a vector sample is handed over as a column (n, 1); "flat": as (n,)
                 backward_arguments the roles of backward's arguments: ["grad_output"] or
                                    ["grad_output", "learning_rate"]
                 mode_keyword       forward's keyword taking the mode (True in training), passed when forward has it
                 mode_attribute     an attribute set to the mode (True in training) on the course object before
                                    every call
                 value_key/grad_key parameters held as dicts {value_key: array, grad_key: array}
                 params_attribute   a list attribute holding the parameter arrays (kept in step with the binding)
                 parameters.<Layer> torch parameter (weight, bias) -> {attribute, axes (the course's array is
                                    torch's transposed by these axes), shape (then reshaped to this, -1 allowed),
                                    untied (a bias with one value per output position: bias=False only)}
                 inferred.<Layer>   contract arguments the course infers from its first input (not passed)
                 criteria.<Loss>    "loss_and_gradient": f(input, target) -> (loss, dX); "cached":
                                    obj.forward(input, target) -> loss then obj.backward() -> dX; "loss_and_prime":
                                    loss(...) and prime(...) (two names)
                 loss_arguments     the criterion's argument order: ["input", "target"] (default) or
                                    ["target", "input"]

The wrapper owns the live parameters in torch's layout and their gradient buffers. Before every call into the
course object it binds the parameters in the course's layout (a transpose / reshape view, in the input's dtype; a
copy when the course updates them in place), into the course object's attribute or dict entry; it ADDS the
gradients of each call into its buffers. bias=False holds the course's bias at 0 and drops its gradient. Whatever
the student's method returns that cannot be used (None, a wrong shape, not a list) is a CheckFailure naming that
method and what it returned."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from nn_harness.sandbox.adapters.base import Adapter, Binder, Criterion, Layer, pair, uniform
from nn_harness.sandbox.adapters.profile import CONTRACT_ARGUMENTS, CONTRACT_DEFAULTS, NotExpressible, Profile, ProfileError
from nn_harness.sandbox.adapters.update_only import LEARN_RATE  # gradients recovered from an update: the same exact step
from nn_harness.sandbox.student import CheckFailure, add_into, describe

GRADIENTS_FROM = ("returned", "stored", "update")
OPTION_KEYS = {"gradients_from", "batch", "sample_vector", "backward_arguments", "mode_keyword", "mode_attribute",
               "value_key", "grad_key", "params_attribute", "parameters", "inferred", "criteria", "loss_arguments",
               "dropout_p", "dropout_p_default"}
CRITERION_KINDS = ("loss_and_gradient", "cached", "loss_and_prime")
# Contract arguments a course may take one value per axis of: the tokens naming each axis.
PER_AXIS = {"kernel_size": ("kernel_height", "kernel_width"), "stride": ("stride_height", "stride_width"),
            "padding": ("padding_height", "padding_width")}
SQUARE = ("kernel_size", "stride", "padding")  # as a token: one number for both axes
FROM_INPUT = ("in_features", "in_channels", "num_features")  # known from input_shape
# Layers whose output sample is a vector whatever the input's rank (the rest keep the input sample's rank).
VECTOR_OUTPUT = ("Linear", "Flatten")
LAYERS = ("Linear", "Conv2d", "MaxPool2d", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "Dropout",
          "Flatten", "Softmax", "LogSoftmax")
CRITERIA = ("MSELoss", "NLLLoss", "CrossEntropyLoss")


def _fail(profile: Profile, key: str, problem: str) -> ProfileError:
    return ProfileError(f"profile {profile.source}: {key}: {problem}")


@dataclass(frozen=True)
class ParameterSpec:
    """How the course holds one torch parameter."""

    name: str  # torch's: weight, bias
    attribute: str
    axes: tuple[int, ...] | None = None  # the course's array is torch's .transpose(axes)
    shape: tuple[int, ...] | None = None  # ... then .reshape(shape)
    untied: bool = False  # a bias per output position (not torch's): only bias=False, held at 0

    def to_course(self, value: np.ndarray) -> np.ndarray:
        if self.axes is not None:
            value = value.transpose(self.axes)
        return value if self.shape is None else value.reshape(self.shape)

    def course_shape(self, torch_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.to_course(np.empty(torch_shape)).shape

    def to_torch(self, value: np.ndarray, torch_shape: tuple[int, ...]) -> np.ndarray:
        shape = torch_shape if self.axes is None else tuple(torch_shape[a] for a in self.axes)
        value = value.reshape(shape)
        return value if self.axes is None else value.transpose(np.argsort(self.axes))


# torch's parameters of the layers with parameters: (name, shape) from the constructor arguments, and the fan-in
def _torch_parameters(layer: str, given: Mapping[str, Any]) -> tuple[list[tuple[str, tuple[int, ...]]], int]:
    if layer == "Linear":
        n_in, n_out = given["in_features"], given["out_features"]
        return [("weight", (n_out, n_in)), ("bias", (n_out,))], n_in
    if layer == "Conv2d":
        (kh, kw), c, f = pair(given["kernel_size"]), given["in_channels"], given["out_channels"]
        return [("weight", (f, c, kh, kw)), ("bias", (f,))], c * kh * kw
    return [], 1


class Settings:
    """The profile's options for this driver, validated (ProfileError naming the key)."""

    def __init__(self, profile: Profile) -> None:
        o, self.profile = profile.options, profile
        unknown = sorted(set(o) - OPTION_KEYS)
        if unknown:
            raise _fail(profile, f"options.{unknown[0]}", f"unknown to the objects driver (it reads: "
                                                         f"{', '.join(sorted(OPTION_KEYS))})")
        self.gradients_from = o.get("gradients_from", "returned")
        if self.gradients_from not in GRADIENTS_FROM:
            raise _fail(profile, "options.gradients_from", f"one of {', '.join(GRADIENTS_FROM)}, "
                                                           f"got {self.gradients_from!r}")
        self.batch = o.get("batch", True)
        if not isinstance(self.batch, bool):
            raise _fail(profile, "options.batch", f"true (the layers take the batch) or false (one sample at a "
                                                  f"time), got {self.batch!r}")
        self.column = o.get("sample_vector", "flat") == "column"
        if o.get("sample_vector", "flat") not in ("flat", "column"):
            raise _fail(profile, "options.sample_vector", f"\"flat\" or \"column\", got {o['sample_vector']!r}")
        self.backward_arguments = tuple(o.get("backward_arguments", ["grad_output"]))
        if not self.backward_arguments or self.backward_arguments[0] != "grad_output" or \
                not set(self.backward_arguments) <= {"grad_output", "learning_rate"}:
            raise _fail(profile, "options.backward_arguments", "[\"grad_output\"] or [\"grad_output\", "
                                                               f"\"learning_rate\"], got {o['backward_arguments']!r}")
        if self.gradients_from == "update" and "learning_rate" not in self.backward_arguments:
            raise _fail(profile, "options.backward_arguments", "gradients_from = \"update\" needs a learning_rate")
        self.mode_keyword = self._string(profile, "mode_keyword")
        self.mode_attribute = self._string(profile, "mode_attribute")
        self.value_key = self._string(profile, "value_key")
        self.grad_key = self._string(profile, "grad_key") or "grad"
        self.params_attribute = self._string(profile, "params_attribute")
        if self.gradients_from == "stored" and self.value_key is None:
            raise _fail(profile, "options.value_key", "gradients_from = \"stored\" reads each parameter's "
                                                      "{value_key, grad_key} dict: value_key is required")
        self.parameters: dict[str, list[ParameterSpec]] = {}
        for layer, table in self._table(profile, "parameters").items():
            if layer not in ("Linear", "Conv2d"):
                raise _fail(profile, f"options.parameters.{layer}", "the objects driver knows torch's parameters "
                                                                    "of Linear and Conv2d only")
            specs = []
            for name, spec in self._table(profile, f"parameters.{layer}", table).items():
                key = f"options.parameters.{layer}.{name}"
                if name not in ("weight", "bias") or not isinstance(spec, dict) or \
                        not isinstance(spec.get("attribute"), str) or set(spec) - {"attribute", "axes", "shape",
                                                                                   "untied"}:
                    raise _fail(profile, key, "weight or bias = { attribute = NAME, axes = [...], shape = [...], "
                                              f"untied = BOOL }}, got {spec!r}")
                specs.append(ParameterSpec(name, spec["attribute"],
                                           tuple(spec["axes"]) if "axes" in spec else None,
                                           tuple(spec["shape"]) if "shape" in spec else None,
                                           bool(spec.get("untied", False))))
            self.parameters[layer] = specs
        self.inferred = {layer: tuple(args) for layer, args in self._table(profile, "inferred").items()}
        self.criteria = dict(self._table(profile, "criteria"))
        for loss, kind in self.criteria.items():
            if kind not in CRITERION_KINDS:
                raise _fail(profile, f"options.criteria.{loss}", f"one of {', '.join(CRITERION_KINDS)}, got {kind!r}")
        self.loss_arguments = tuple(o.get("loss_arguments", ["input", "target"]))
        if sorted(self.loss_arguments) != ["input", "target"]:
            raise _fail(profile, "options.loss_arguments", f"[\"input\", \"target\"] in the course's order, got "
                                                           f"{o['loss_arguments']!r}")

    def criterion(self, loss: str, names: tuple[str, ...]) -> str:
        """How the course's loss is called (options.criteria; by default from the number of names)."""
        kind = self.criteria.get(loss, "loss_and_prime" if len(names) == 2 else "loss_and_gradient")
        if (kind == "loss_and_prime") != (len(names) == 2):
            raise _fail(self.profile, f"names.{loss}", f"options.criteria.{loss} = {kind!r} takes "
                                                       f"{'two names' if kind == 'loss_and_prime' else 'one name'}")
        return kind

    @staticmethod
    def _string(profile: Profile, key: str) -> str | None:
        value = profile.options.get(key)
        if value is not None and not isinstance(value, str):
            raise _fail(profile, f"options.{key}", f"must be a name, got {value!r}")
        return value

    @staticmethod
    def _table(profile: Profile, key: str, value: Any = None) -> dict:
        value = profile.options.get(key, {}) if value is None else value
        if not isinstance(value, dict):
            raise _fail(profile, f"options.{key}", f"must be a table, got {value!r}")
        return value


def _accepts(fn: Any, keyword: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == keyword or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def _same(a: Any, b: Any) -> bool:
    """Argument values equal, an int and its square pair alike."""
    try:
        return a == b or (a is not None and b is not None and pair(a) == pair(b))
    except (TypeError, ValueError):
        return False


class Arguments:
    """The course constructor's positional arguments from a contract constructor call ([constructors]); anything
    the course constructor cannot state raises NotExpressible at construction."""

    def __init__(self, profile: Profile, settings: Settings, layer: str, course: Any, args: tuple,
                 kwargs: Mapping[str, Any]) -> None:
        names = CONTRACT_ARGUMENTS.get(layer, ())
        if len(args) > len(names):
            raise TypeError(f"{layer}() takes at most {len(names)} positional arguments ({len(args)} given)")
        self.layer, self.course_name = layer, profile.course_name(layer)
        self.given = {**CONTRACT_DEFAULTS.get(layer, {}), **dict(zip(names, args)), **kwargs}
        if layer == "MaxPool2d" and self.given.get("stride") is None:
            self.given["stride"] = self.given.get("kernel_size")
        self.tokens = profile.constructors.get(layer, ())
        self.lazy = "input_shape" in self.tokens
        taken = {*settings.inferred.get(layer, ()), "bias"}  # bias: held at 0 by the wrapper when False
        for token in self.tokens:
            taken |= {token} | {arg for arg, axes in PER_AXIS.items() if token in axes}
            if token == "input_shape":
                taken |= set(FROM_INPUT)
        defaults = CONTRACT_DEFAULTS.get(layer, {})
        dropped = {k: v for k, v in self.given.items() if k not in taken and not _same(v, defaults.get(k, object()))}
        if dropped:
            self._refuse(profile, ", ".join(f"{k}={v!r}" for k, v in dropped.items()),
                         f"takes {', '.join(self.tokens) or 'no argument'}")
        for arg in SQUARE:
            if arg in self.tokens and arg in self.given:
                h, w = pair(self.given[arg])
                if h != w:
                    self._refuse(profile, f"{arg}={self.given[arg]!r}", f"takes one {arg} for both axes")
        self.keeps = layer == "Dropout" and profile.dropout_keeps(course)[0]

    def _refuse(self, profile: Profile, shown: str, why: str) -> None:
        raise NotExpressible(profile.name, f"{self.layer}({shown}) (the course's {self.course_name} {why})")

    def values(self, sample_shape: tuple[int, ...] | None, column: bool) -> list[Any]:
        out = []
        for token in self.tokens:
            if token == "input_shape":
                out.append(tuple(sample_shape or ()))
            elif token == "output_shape":
                size = int(np.prod(sample_shape or ()))
                out.append((size, 1) if column else (size,))
            elif token in SQUARE:
                out.append(pair(self.given[token])[0])
            elif any(token in axes for axes in PER_AXIS.values()):
                arg = next(a for a, axes in PER_AXIS.items() if token in axes)
                out.append(pair(self.given[arg])[PER_AXIS[arg].index(token)])
            elif token == "p" and self.keeps:
                out.append(1 - self.given["p"])
            else:
                out.append(self.given[token])
        return out


def _array(value: Any, what: str, expected: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise CheckFailure(f"{what} returned {describe(value)}; expected {expected}")
    return value


def _stack(results: list[np.ndarray], what: str) -> np.ndarray:
    shapes = {r.shape for r in results}
    if len(shapes) > 1:
        raise CheckFailure(f"{what} returned arrays of different shapes for the samples of one batch: "
                           f"{', '.join(str(s) for s in sorted(shapes))}")
    return np.stack(results)


class Samples:
    """Batch <-> the course's samples: the batch itself (batch = true), or each sample, a vector one as a column
    (n, 1) when sample_vector = "column"."""

    def __init__(self, settings: Settings) -> None:
        self.batch, self.column = settings.batch, settings.column

    def split(self, x: np.ndarray) -> list[np.ndarray]:
        if self.batch:
            return [x]
        return [s.reshape(-1, 1) if s.ndim == 1 and self.column else s for s in x]

    def one(self, x: np.ndarray, vector: bool) -> np.ndarray:
        """One sample of a result the contract gives per sample (vector: the contract's sample is a vector)."""
        return x.reshape(-1, 1) if vector and self.column and x.ndim == 1 else x

    def unsplit(self, results: list[np.ndarray], vector: bool, what: str) -> np.ndarray:
        if self.batch:
            return results[0]
        if vector and self.column:
            for r in results:
                if r.ndim != 2 or r.shape[1] != 1:
                    raise CheckFailure(f"{what} returned {describe(r)} for one sample; expected a column vector "
                                       "(k, 1)")
            results = [r[:, 0] for r in results]
        return _stack(results, what)


class ObjectLayer(Layer):
    """A contract layer around course layer objects (see the module docstring)."""

    def __init__(self, profile: Profile, settings: Settings, layer: str, course: Any, args: tuple,
                 kwargs: Mapping[str, Any]) -> None:
        self.s, self.layer, self.course = settings, layer, course
        self.forward_name, self.backward_name = profile.method("forward"), profile.method("backward")
        self.arguments = Arguments(profile, settings, layer, course, args, kwargs)
        self.samples = Samples(settings)
        torch_params, fan_in = _torch_parameters(layer, self.arguments.given)
        specs = {spec.name: spec for spec in settings.parameters.get(layer, [])}
        has_bias = bool(self.arguments.given.get("bias", True))
        self._specs: list[ParameterSpec] = []  # the course's parameters, in the profile's (the course's) order
        self._shapes: dict[str, tuple[int, ...]] = dict(torch_params)
        for spec in specs.values():
            if spec.untied and has_bias:
                raise NotExpressible(profile.name, f"{layer}(bias=True) (the course's {spec.attribute} is an "
                                                   "untied bias, one value per output position; torch's has one per channel)")
            self._specs.append(spec)
        self._visible = [spec for spec in self._specs if spec.name != "bias" or has_bias]
        self._params = {spec.name: uniform(self._shapes[spec.name], fan_in) for spec in self._visible}
        self._grads = {name: np.zeros_like(p) for name, p in self._params.items()}
        self._objects: dict[Any, Any] = {}
        if not self.arguments.lazy:
            self._objects[None] = course(*self.arguments.values(None, settings.column))

    # ---- the course object and its parameters
    def _object(self, sample: np.ndarray) -> Any:
        key = (sample.shape[1:] if self.s.batch else sample.shape) if self.arguments.lazy else None
        if key not in self._objects:
            self._objects[key] = self.course(*self.arguments.values(key, self.s.column))
        return self._objects[key]

    def _name(self, obj: Any, method: str) -> str:
        return f"{type(obj).__name__}.{method}"

    def _get(self, obj: Any, attribute: str, key: str | None = None) -> Any:
        holder = getattr(obj, attribute, None)
        if self.s.value_key is None:
            return holder
        return holder.get(key or self.s.value_key) if isinstance(holder, dict) else None

    def _set(self, obj: Any, attribute: str, value: np.ndarray) -> None:
        if self.s.value_key is None:
            setattr(obj, attribute, value)
            return
        holder = getattr(obj, attribute, None)
        if isinstance(holder, dict):
            holder[self.s.value_key] = value
        else:  # not created yet (a lazy layer): the dict the course would make
            setattr(obj, attribute, {self.s.value_key: value, self.s.grad_key: np.zeros_like(value)})

    def _bind(self, obj: Any, dtype: np.dtype) -> list[np.ndarray]:
        """The live parameters into the course object, in its layout and the input's dtype (copies when the course
        updates them in place); a bias held at 0 for bias=False. Returns the arrays bound, in the course's order."""
        copy = self.s.gradients_from == "update"
        bound = []
        for spec in self._specs:
            if spec.name in self._params:
                value = spec.to_course(self._params[spec.name]).astype(dtype, copy=copy)
            elif spec.untied:
                current = self._get(obj, spec.attribute)
                value = np.zeros(np.shape(current), dtype)
            else:
                value = spec.to_course(np.zeros(self._shapes[spec.name], dtype))
            self._set(obj, spec.attribute, value)
            bound.append(value)
        if self.s.params_attribute and isinstance(getattr(obj, self.s.params_attribute, None), list):
            setattr(obj, self.s.params_attribute, list(bound))
        return bound

    def _still_bound(self, obj: Any, bound: list[np.ndarray]) -> bool:
        return all(self._get(obj, spec.attribute) is value for spec, value in zip(self._specs, bound))

    # ---- calls
    def _call_forward(self, obj: Any, sample: np.ndarray) -> np.ndarray:
        if self.s.mode_attribute:
            setattr(obj, self.s.mode_attribute, self.training)
        fn = getattr(obj, self.forward_name)
        kwargs = {self.s.mode_keyword: self.training} if self.s.mode_keyword and _accepts(fn, self.s.mode_keyword) \
            else {}
        return _array(fn(sample, **kwargs), self._name(obj, self.forward_name), "an array (the output)")

    def _run_forward(self, sample: np.ndarray) -> tuple[Any, np.ndarray]:
        obj = self._object(sample)
        bound = self._bind(obj, sample.dtype)
        out = self._call_forward(obj, sample)
        if not self._still_bound(obj, bound):  # the course created its parameters in this forward (lazily)
            self._bind(obj, sample.dtype)
            out = self._call_forward(obj, sample)
        return obj, out

    def _forward(self, input: np.ndarray) -> np.ndarray:
        outputs, name = [], self.forward_name
        for sample in self.samples.split(input):
            obj, out = self._run_forward(sample)
            outputs.append(out)
            name = self._name(obj, self.forward_name)
        vector = self.layer in VECTOR_OUTPUT or input.ndim == 2
        return self.samples.unsplit(outputs, vector, name)

    def _backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        samples = self.samples.split(input)
        upstream = [grad_output] if self.s.batch else \
            [self.samples.one(g, self.layer in VECTOR_OUTPUT or input.ndim == 2) for g in grad_output]
        results, name = [], self.backward_name
        for sample, g in zip(samples, upstream):
            if self.s.batch:
                obj = self._object(sample)
                self._bind(obj, sample.dtype)
            else:  # the course layer caches the latest sample only: that sample's forward first
                obj, _ = self._run_forward(sample)
            name = self._name(obj, self.backward_name)
            results.append(self._call_backward(obj, sample, g, name))
        return self.samples.unsplit(results, input.ndim == 2, name)

    def _call_backward(self, obj: Any, sample: np.ndarray, g: np.ndarray, what: str) -> np.ndarray:
        before = [np.array(value, dtype=np.float64) for value in
                  (self._get(obj, spec.attribute) for spec in self._visible)] \
            if self.s.gradients_from == "update" else []
        rate = LEARN_RATE if self.s.gradients_from == "update" else 0.0
        arguments = [g if role == "grad_output" else rate for role in self.s.backward_arguments]
        result = getattr(obj, self.backward_name)(*arguments)
        if self.s.gradients_from == "returned":
            grad_input = self._add_returned(result, what)
        else:
            grad_input = result
            if self.s.gradients_from == "stored":
                self._add_stored(obj, what)
            else:
                self._add_updated(obj, before, what)
        if not isinstance(grad_input, np.ndarray) or grad_input.shape != sample.shape:
            raise CheckFailure(f"{what} returned {describe(grad_input)} as the input gradient; expected an array "
                               f"of shape {sample.shape}, the input's")
        return grad_input

    def _add(self, spec: ParameterSpec, grad: Any, what: str, said: str, of: str) -> None:
        """The course's gradient of `spec` (in its layout) added into the buffer; `said` is what the student's
        method did with it ("returned ... as dW"), `of` the course array whose shape it must have."""
        expected = spec.course_shape(self._shapes[spec.name])
        if not isinstance(grad, np.ndarray) or grad.shape != expected:
            raise CheckFailure(f"{what} {said}; expected an array of shape {expected}, the shape of {of}")
        add_into(self._grads[spec.name], spec.to_torch(grad, self._shapes[spec.name]), what)

    def _add_returned(self, result: Any, what: str) -> Any:
        names = ", ".join(f"d{spec.attribute}" for spec in self._specs)
        if not isinstance(result, tuple | list) or len(result) != 2:
            raise CheckFailure(f"{what} returned {describe(result)}; expected a pair (dX, [{names}])")
        grad_input, grads = result
        if not isinstance(grads, list | tuple) or len(grads) != len(self._specs):
            raise CheckFailure(f"{what} returned {describe(grads)} as its parameter gradients; expected a list "
                               f"[{names}]")
        for spec, grad in zip(self._specs, grads):
            if spec in self._visible:
                self._add(spec, grad, what, f"returned {describe(grad)} as d{spec.attribute}", spec.attribute)
        return grad_input

    def _add_stored(self, obj: Any, what: str) -> None:
        for spec in self._visible:
            grad = self._get(obj, spec.attribute, self.s.grad_key)
            self._add(spec, grad, what, f"left {spec.attribute}[{self.s.grad_key!r}] = {describe(grad)}",
                      f"{spec.attribute}[{self.s.value_key!r}]")

    def _add_updated(self, obj: Any, before: list[np.ndarray], what: str) -> None:
        for spec, old in zip(self._visible, before):
            after = self._get(obj, spec.attribute)
            if not isinstance(after, np.ndarray) or after.shape != old.shape:
                raise CheckFailure(f"{what} left {spec.attribute} = {describe(after)} after its update; expected an "
                                   f"array of shape {old.shape}")
            self._add(spec, (old - after.astype(np.float64)) / LEARN_RATE, what, "updated", spec.attribute)

    def _parameters(self) -> list[np.ndarray]:
        return [self._params[spec.name] for spec in sorted(self._visible, key=lambda s: s.name != "weight")]

    def _grad_parameters(self) -> list[np.ndarray]:
        return [self._grads[spec.name] for spec in sorted(self._visible, key=lambda s: s.name != "weight")]


class ObjectCriterion(Criterion):
    """A contract criterion from the course's loss (see options.criteria); per sample (mean over the batch) when
    the course takes one sample at a time."""

    def __init__(self, settings: Settings, kind: str, course: tuple[Any, ...], forward: str, backward: str) -> None:
        self.s, self.kind, self.course = settings, kind, course
        self.forward_name, self.backward_name = forward, backward
        self.samples = Samples(settings)
        self.obj = course[0]() if kind == "cached" else None

    def _ordered(self, input: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (input, target) if self.s.loss_arguments[0] == "input" else (target, input)

    def _pairs(self, input: np.ndarray, target: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.s.batch:
            return [(input, target)]
        same = target.shape == input.shape
        return [(self.samples.one(x, x.ndim == 1), self.samples.one(t, x.ndim == 1) if same else t)
                for x, t in zip(input, target)]

    def _name(self, index: int, method: str | None = None) -> str:
        fn = self.course[index]
        if method is not None:
            return f"{type(self.obj).__name__}.{method}"
        return getattr(fn, "__name__", repr(fn))

    def _one(self, x: np.ndarray, t: np.ndarray, *, gradient: bool) -> tuple[Any, Any]:
        """(loss, gradient) for one sample (or the batch); the gradient only when asked."""
        if self.kind == "loss_and_gradient":
            result = self.course[0](*self._ordered(x, t))
            if not isinstance(result, tuple | list) or len(result) != 2:
                raise CheckFailure(f"{self._name(0)} returned {describe(result)}; expected a pair (loss, dX)")
            return result[0], (_array(result[1], self._name(0), "an array dX") if gradient else None)
        if self.kind == "cached":
            loss = getattr(self.obj, self.forward_name)(*self._ordered(x, t))
            grad = getattr(self.obj, self.backward_name)() if gradient else None
            return loss, (_array(grad, self._name(0, self.backward_name), "an array dX") if gradient else None)
        loss = None if gradient else self.course[0](*self._ordered(x, t))
        return loss, (_array(self.course[1](*self._ordered(x, t)), self._name(1), "an array dX") if gradient
                      else None)

    def _forward(self, input: np.ndarray, target: np.ndarray) -> Any:
        losses = [self._one(x, t, gradient=False)[0] for x, t in self._pairs(input, target)]
        what = self._name(0, self.forward_name if self.kind == "cached" else None)
        for loss in losses:
            if not isinstance(loss, float | int | np.number | np.ndarray) or isinstance(loss, bool) or \
                    (isinstance(loss, np.ndarray) and loss.size != 1):
                raise CheckFailure(f"{what} returned {describe(loss)} as the loss; expected a number")
        return losses[0] if self.s.batch else np.sum([np.reshape(v, ()) for v in losses]) / len(losses)

    def _backward(self, input: np.ndarray, target: np.ndarray) -> np.ndarray:
        pairs = self._pairs(input, target)
        index = 1 if self.kind == "loss_and_prime" else 0
        what = self._name(index, self.backward_name if self.kind == "cached" else None)
        grads = []
        for x, t in pairs:
            grad = self._one(x, t, gradient=True)[1]
            if grad.shape != x.shape:
                raise CheckFailure(f"{what} returned {describe(grad)} as the input gradient; expected an array of "
                                   f"shape {x.shape}, the input's")
            grads.append(grad)
        if self.s.batch:
            return grads[0]
        return self.samples.unsplit(grads, input.ndim == 2, what) / len(pairs)


def _layer(layer: str) -> Binder:
    def binder(m: ModuleType, names: tuple[str, ...], profile: Profile) -> Callable[..., ObjectLayer]:
        settings, course = Settings(profile), getattr(m, names[0])
        return lambda *a, **k: ObjectLayer(profile, settings, layer, course, a, k)
    return binder


def _criterion(loss: str) -> Binder:
    def binder(m: ModuleType, names: tuple[str, ...], profile: Profile) -> Callable[[], ObjectCriterion]:
        settings = Settings(profile)
        kind = settings.criterion(loss, names)
        course = tuple(getattr(m, name) for name in names)
        return lambda: ObjectCriterion(settings, kind, course, profile.method("forward"), profile.method("backward"))
    return binder


class Objects(Adapter):
    binders = {**{layer: _layer(layer) for layer in LAYERS}, **{loss: _criterion(loss) for loss in CRITERIA}}

    def __init__(self, profile: Profile) -> None:
        """A profile the driver cannot use fails here, when the adapter is built (before any check), naming the
        key."""
        super().__init__(profile)
        settings = Settings(profile)
        for layer in ("Linear", "Conv2d"):
            given = {spec.name for spec in settings.parameters.get(layer, [])}
            if layer in profile.names and given != {"weight", "bias"}:
                raise _fail(profile, f"options.parameters.{layer}", "where the course keeps weight and bias is "
                                                                    f"required (has: {', '.join(sorted(given)) or 'none'})")
        for loss in CRITERIA:
            if loss in profile.names:
                settings.criterion(loss, profile.names[loss])
