"""The checks on one layer case: each a small function that returns nothing or raises one CheckFailure.

Forward and backward against the torch twin, backward against finite differences of the implementation's own
forward, and the contract's rules (gradients accumulate, zero_grad, inputs untouched, dtypes, no stale cache, batch
sizes changing between passes, a backward derived rather than numerical).
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import reference
from nn_harness.cases.layer_case import (
    Built,
    LayerCase,
    any_mode_cases,
    build,
    checked_parameter_list,
    layer_cases,
    parameter_list,
    truth,
)
from nn_harness.cases.registry import Tolerance
from nn_harness.cases.returned import strict_array
from nn_harness.checks import finite_diff as fd
from nn_harness.checks.compare import CheckFailure, Recheck, assert_close
from nn_harness.sandbox.client import Promise, beside, pipelined, resolved
from nn_harness.sandbox.student import call, describe, later, method

FLOAT32 = Tolerance(rtol=1e-3, atol=1e-4)  # float32 against the float64 twin, relative to the largest value


def forward(built: Built, case: LayerCase, inputs: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
    """What forward(*inputs) returned, one entry per output (not yet checked: each check says what it expects)."""
    name = case.spec.name
    got = call(f"{name}.forward", method(built.layer, "forward", name), *inputs)
    return _each(got, f"{name}.forward", case.spec.output_names)


def backward(built: Built, case: LayerCase, inputs: tuple[np.ndarray, ...],
             grad_outputs: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
    """What backward(*inputs, *grad_outputs) returned, one entry per input."""
    name = case.spec.name
    got = call(f"{name}.backward", method(built.layer, "backward", name), *inputs, *grad_outputs)
    return _each(got, f"{name}.backward", _grad_names(case))


def forward_later(built: Built, case: LayerCase, inputs: tuple[np.ndarray, ...]) -> None:
    """forward(*inputs) for the state it leaves, its result unused: sent with the check's next request."""
    name = case.spec.name
    later(f"{name}.forward", method(built.layer, "forward", name), *inputs)


def promise(built: Built, case: LayerCase, name: str, *args: Any) -> Any:
    """layer.<name>(*args), sent with the check's next request (promise pipelining: nn_harness/sandbox/client.py):
    `resolved` gives its result as it was when the call returned, and raises what that request raised (a failure
    names its call). A layer of this process (the meta-tests') is called at once, its arrays copied then."""
    what = f"{case.spec.name}.{name}" + ("" if args else "()")
    with pipelined(built.layer, what):
        value = call(what, method(built.layer, name, case.spec.name), *args)
    return value if isinstance(value, Promise) else _snapshot(value)


class Pass:
    """forward(*inputs), backward(*inputs, *upstream) and grad_parameters(), sent together: one round trip. Each
    result is checked when the check asks for it, in the order it asks (a failure is the first one it meets).
    `outputs=False`: forward's result is not kept; `parameter_grads=False`: grad_parameters() is not called."""

    def __init__(self, built: Built, case: LayerCase, inputs: tuple[np.ndarray, ...],
                 upstream: tuple[np.ndarray, ...], *, outputs: bool = True, parameter_grads: bool = True) -> None:
        self.built, self.case = built, case
        if outputs:
            self._outputs = promise(built, case, "forward", *inputs)
        else:
            forward_later(built, case, inputs)
        self._grad_inputs = promise(built, case, "backward", *inputs, *upstream)
        if parameter_grads:
            self._parameter_grads = promise(built, case, "grad_parameters")

    def outputs(self) -> tuple[Any, ...]:
        return _each(resolved(self._outputs), f"{self.case.spec.name}.forward", self.case.spec.output_names)

    def grad_inputs(self) -> tuple[Any, ...]:
        return _each(resolved(self._grad_inputs), f"{self.case.spec.name}.backward", _grad_names(self.case))

    def parameter_grads(self) -> list[np.ndarray]:
        return _checked(self.built, self.case, resolved(self._parameter_grads), "grad_parameters")


def _snapshot(value: Any) -> Any:
    """A copy of every array in `value` (an array, or a list or tuple of them): as it is now, whatever a later call
    does to the layer's buffers."""
    if isinstance(value, np.ndarray):
        return value.copy()
    return type(value)(_snapshot(v) for v in value) if type(value) in (list, tuple) else value


def _grad_names(case: LayerCase) -> tuple[str, ...]:
    return tuple(f"grad of {n}" for n in case.spec.input_names)


def _each(got: Any, what: str, names: tuple[str, ...]) -> tuple[Any, ...]:
    """A method's result as one entry per name: the value itself for one name, a tuple (or list) of them for several."""
    if len(names) == 1:
        return (got,)
    if isinstance(got, tuple | list) and len(got) == len(names):
        return tuple(got)
    raise CheckFailure(f"{what} returned {describe(got)}; expected a tuple of {len(names)} arrays "
                       f"({', '.join(names)})")


def _output_label(case: LayerCase, k: int) -> str:
    names = case.spec.output_names
    return "output" if len(names) == 1 else f"output {names[k]}"


def _copies(arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(a.copy() for a in arrays)


def grads(built: Built, case: LayerCase) -> list[np.ndarray]:
    shapes = [v.shape for v in built.values]
    return parameter_list(built.layer, "grad_parameters", case, built.names, shapes)


def _checked(built: Built, case: LayerCase, got: Any, getter: str) -> list[np.ndarray]:
    """What a promised parameters() or grad_parameters() returned, checked as `parameter_list` checks it."""
    return checked_parameter_list(got, case.spec.name, getter, built.names, [v.shape for v in built.values])


def _assert_grads(built: Built, case: LayerCase, parameter_grads: list[np.ndarray], expected: dict[str, np.ndarray],
                  tolerance: Tolerance, *, impl: Any = None) -> None:
    """Every parameter gradient against `expected`; `impl`, when given: coincident hint factors are told apart on a
    larger batch (`_on_larger_batch`)."""
    for got, name in zip(parameter_grads, built.names):
        assert_close(f"grad of {name}", got, expected[name], tolerance, dtype=_float_dtype(got), factors=case.factors,
                     mistakes=lambda name=name: _parameter_mistakes(built, case, name),
                     recheck=None if impl is None else _on_larger_batch(impl, case, ("parameter", name)))


Mistakes = Callable[[int], dict[str, np.ndarray]]  # output or input k -> what known mistakes would give, by hint


def assert_outputs(got: tuple[Any, ...], expected: reference.TwinResult, case: LayerCase, tolerance: Tolerance,
                    *, where: str = "", impl: Any = None, mistakes: Mistakes | None = None, **kwargs: Any) -> None:
    """Every output against torch's; `impl`, when given: hint factors told apart on a larger batch; `mistakes`:
    named where one fits."""
    for k, (out, want) in enumerate(zip(got, expected.outputs)):
        assert_close(f"{_output_label(case, k)}{where}", out, want, tolerance, factors=case.factors,
                     recheck=None if impl is None else _on_larger_batch(impl, case, ("output", k)),
                     mistakes=None if mistakes is None else lambda k=k: mistakes(k), **kwargs)


def assert_grad_inputs(got: tuple[Any, ...], expected: reference.TwinResult, case: LayerCase,
                        *, where: str = "", impl: Any = None, mistakes: Mistakes | None = None, **kwargs: Any) -> None:
    """The gradient of every input against torch's. Integer inputs (indices: Embedding) have none: what backward
    returns for them is not compared (the contract says None), their parameter gradients are; nor is it for an input
    the course holds at zero (`LayerSpec.zero_inputs`). `impl` and `mistakes` as for `assert_outputs`."""
    for k, (grad, want, name) in enumerate(zip(got, expected.grad_inputs, case.spec.input_names)):
        if want is not None and case.spec.graded_gradient(name):
            assert_close(f"grad of {name}{where}", grad, want, case.spec.tolerance, factors=case.factors,
                         recheck=None if impl is None else _on_larger_batch(impl, case, ("input", k)),
                         mistakes=None if mistakes is None else lambda k=k: mistakes(k), **kwargs)


def _confusions(built: Built, case: LayerCase, pick: Callable[[reference.TwinResult], np.ndarray]
                ) -> dict[str, np.ndarray]:
    """What each of the spec's confusions (the layer built with other arguments) gives, by its hint."""
    found = {}
    for hint, args in (case.spec.confusions(case.args) if case.spec.confusions else {}).items():
        twin = case.spec.make(reference.nn, args).double()
        try:
            result = reference.run_layer(twin, built.values, case.inputs, case.upstream, training=case.mode == "train",
                                         buffers=built.buffers)
        except (RuntimeError, ValueError):  # torch refuses those arguments on this input: no such mistake to name
            continue
        found[hint] = pick(result)
    return found


def _on_larger_batch(impl: Any, case: LayerCase, quantity: tuple[str, Any]) -> Recheck:
    """`quantity` (("output", k), ("input", k): the gradient of input k, or ("parameter", name): its gradient) for
    the case's inputs with the batch grown from n to 2n + 1 samples of the same values (so every value condition
    of the case still holds), and a sequence from T to 2T + 1 steps: a hint factor that is the batch size (or the
    sequence length) follows it there, the constant 2 does not."""
    def run() -> tuple[object, np.ndarray, dict[str, float]]:
        larger = case.mapped(lambda a: np.concatenate([a, a, a[:1]]))
        if case.spec.sequence:
            x = larger.x
            larger = dataclasses.replace(larger, x=np.concatenate([x, x, x[:, :1]], axis=1))
        built = build(impl, larger)
        expected = truth(built, larger)
        inputs = _copies(larger.inputs)
        kind, key = quantity
        out = forward(built, larger, inputs)
        if kind == "output":
            return out[key], expected.outputs[key], larger.factors
        grad_inputs = backward(built, larger, inputs, _copies(expected.grad_outputs))
        if kind == "input":
            return grad_inputs[key], expected.grad_inputs[key], larger.factors
        return dict(zip(built.names, grads(built, larger)))[key], expected.grad_parameters[key], larger.factors

    return run


def _parameter_mistakes(built: Built, case: LayerCase, name: str) -> dict[str, np.ndarray]:
    """What a parameter gradient would be after a common mistake: one sample's contribution only."""
    mistakes = {}
    for sample in (0, case.x.shape[0] - 1):
        def upstream(shapes: tuple[tuple[int, ...], ...], sample: int = sample) -> tuple[np.ndarray, ...]:
            gs = tuple(np.zeros(shape) for shape in shapes)
            for g, full in zip(gs, case.upstream(shapes)):
                g[sample] = full[sample]
            return gs

        alone = reference.run_layer(built.twin, built.values, case.inputs, upstream, training=case.mode == "train",
                                    buffers=built.buffers).grad_parameters[name]
        mistakes[f"it equals sample {sample}'s contribution alone: a parameter gradient sums over the batch"] = alone
    return mistakes


def _other_values(x: np.ndarray) -> np.ndarray:
    """An input of the same shape and value conditions with other values: mirrored (indices within their own
    range, so they stay valid)."""
    return x.min() + x.max() - x[::-1] if x.dtype.kind in "iu" else -x[::-1].copy()


def forward_matches_torch(impl: Any, case: LayerCase) -> None:
    built = build(impl, case)
    expected = truth(built, case)
    out = forward(built, case, _copies(case.inputs))
    assert_outputs(out, expected, case, case.spec.tolerance, impl=impl,
                    mistakes=lambda k: _confusions(built, case, lambda r: r.outputs[k]))
    for name in built.buffers:
        assert_close(f"{name} after forward", getattr(built.layer, name), expected.buffers[name], case.spec.tolerance)


def backward_matches_torch(impl: Any, case: LayerCase) -> None:
    built = build(impl, case)
    expected = truth(built, case)
    sent = Pass(built, case, _copies(case.inputs), _copies(expected.grad_outputs), outputs=False)
    assert_grad_inputs(sent.grad_inputs(), expected, case, impl=impl,
                        mistakes=lambda k: _confusions(built, case, lambda r: r.grad_inputs[k]))
    _assert_grads(built, case, sent.parameter_grads(), expected.grad_parameters, case.spec.tolerance, impl=impl)


def backward_matches_finite_differences(impl: Any, case: LayerCase) -> None:
    """The implementation's backward against central differences of its own forward, in float64. With several
    outputs, they are differentiated as one vector: the outputs flattened and joined in order."""
    built = build(impl, case)
    name = case.spec.name
    inputs = _copies(case.inputs)
    out_shapes = [o.shape for o in truth(built, case).outputs]
    shapes = [v.shape for v in built.values]
    # Integer inputs (indices) have no gradient: the parameters' only (nor have inputs the course holds at zero).
    input_names = case.spec.input_names
    differentiable = [k for k, a in enumerate(inputs) if a.dtype.kind == "f" and case.spec.graded_gradient(input_names[k])]
    # With the first forward below (one round trip); the live arrays, which the differences move: not `promise`,
    # which copies what a layer of this process returns.
    with pipelined(built.layer, f"{name}.parameters()"):
        parameters = call(f"{name}.parameters()", method(built.layer, "parameters", name))
    forward_method = method(built.layer, "forward", name)

    def output(value: Any) -> np.ndarray:
        """Every output, checked, flattened and joined."""
        outs = _each(value, f"{name}.forward", case.spec.output_names)
        return np.concatenate([strict_array(out, what=_output_label(case, k), shape=shape, dtype=np.float64).reshape(-1)
                               for k, (out, shape) in enumerate(zip(outs, out_shapes))])

    def f() -> np.ndarray:
        return output(call(f"{name}.forward", forward_method, *inputs))

    f()
    tensors = {**{input_names[k]: inputs[k] for k in differentiable},
               **dict(zip(built.names, _checked(built, case, resolved(parameters), "parameters")))}
    sizes = [int(np.prod(shape)) for shape in out_shapes]

    def split(vector: np.ndarray) -> tuple[np.ndarray, ...]:
        """A vector over the joined outputs as one upstream gradient per output."""
        return tuple(part.reshape(shape) for part, shape in zip(np.split(vector, np.cumsum(sizes)[:-1]), out_shapes))

    def gradients(row: tuple) -> dict[str, np.ndarray]:
        """Gradients of v . f w.r.t. every tensor, from one fresh forward and backward (helpers.backward_rows)."""
        out, grad_inputs, grad_parameters = row
        output(out)
        got = checked_parameter_list(grad_parameters, name, "grad_parameters", built.names, shapes)
        of_inputs = _each(grad_inputs, f"{name}.backward", tuple(f"grad of {n}" for n in input_names))
        return {**{input_names[k]: strict_array(of_inputs[k], what=f"grad of {input_names[k]}", shape=inputs[k].shape,
                                                dtype=np.float64) for k in differentiable},
                **{n: g.astype(np.float64) for n, g in zip(built.names, got)}}

    def backward_later(upstream: list[np.ndarray]) -> Callable[[], list[dict[str, np.ndarray]]]:
        """The gradients for each upstream vector, sent with the next request; the function returned gives them."""
        what = f"{name}.zero_grad(), forward and backward"
        rows_of = beside(impl, "helpers").backward_rows
        with pipelined(built.layer, what):
            rows = call(what, rows_of, built.layer, inputs, [split(v) for v in upstream])
        return lambda: [gradients(row) for row in fd.each_call(resolved(rows), len(upstream), what)]

    def backward_with(upstream: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        return backward_later(upstream)()

    out_size = sum(sizes)
    out_shape = out_shapes[0] if len(out_shapes) == 1 else (out_size,)
    if out_size <= fd.FULL_LIMIT and all(t.size <= fd.FULL_LIMIT for t in tensors.values()):
        # The backward, then every tensor's differences: one round trip.
        pending_rows = backward_later(list(np.eye(out_size)))
        jacobians = {tensor_name: fd.jacobian_later(forward_method, inputs, tensor, result=output,
                                                    what=f"{name}.forward", argument_names=input_names)
                     for tensor_name, tensor in tensors.items()}
        rows = pending_rows()
        for tensor_name, tensor in tensors.items():
            analytical = np.stack([row[tensor_name].reshape(-1) for row in rows]) if rows else \
                np.zeros((0, tensor.size))
            numerical, modified = jacobians[tensor_name]()
            fd.assert_jacobians_close(f"grad of {tensor_name}", analytical, numerical, out_shape, tensor.shape,
                                      modified=modified)
        return
    rng = np.random.default_rng([case.seed, 2])
    analytical: dict[str, list[float]] = {tensor_name: [] for tensor_name in tensors}
    numerical: dict[str, list[float]] = {tensor_name: [] for tensor_name in tensors}
    for _ in range(fd.DIRECTIONS):
        v = rng.standard_normal(out_size)
        (row,) = backward_with([v])
        for tensor_name, tensor in tensors.items():
            derivative, direction = fd.numerical_directional(f, tensor, rng.standard_normal(tensor.shape), v)
            numerical[tensor_name].append(derivative)
            analytical[tensor_name].append(float(np.vdot(row[tensor_name], direction)))
    for tensor_name in tensors:
        fd.assert_directional_close(f"grad of {tensor_name}", analytical[tensor_name], numerical[tensor_name])


def _agrees(compare: Callable[[], None]) -> bool:
    try:
        compare()
    except CheckFailure:
        return False
    return True


def _pass_against_torch(impl: Any, case: LayerCase, where: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """One forward and backward of the case: (compare the outputs with torch's, compare the gradients with torch's)."""
    built = build(impl, case)
    expected = truth(built, case)
    sent = Pass(built, case, _copies(case.inputs), _copies(expected.grad_outputs))
    out, grad_inputs, grad_parameters = sent.outputs(), sent.grad_inputs(), sent.parameter_grads()

    def gradients() -> None:
        assert_grad_inputs(grad_inputs, expected, case, where=where)
        for got, name in zip(grad_parameters, built.names):
            assert_close(f"grad of {name}{where}", got, expected.grad_parameters[name], case.spec.tolerance)

    return (lambda: assert_outputs(out, expected, case, case.spec.tolerance, where=where)), gradients


def stable_for_large_inputs(impl: Any, case: LayerCase) -> None:
    """Forward and backward on the case's inputs scaled by the spec's `large_scale` (exp overflows there unless the
    implementation subtracts the maximum or switches formulas) against torch. Each is judged only where the
    implementation matches torch on the case itself: a wrong value is "forward/backward matches torch"'s to report,
    and this check says only whether right values stay right at scale."""
    scale = case.spec.large_scale
    try:
        moderate = _pass_against_torch(impl, case, "")
    except CheckFailure:  # forward or backward fails on the case itself: theirs to report
        return
    judged = [_agrees(compare) for compare in moderate]
    if not any(judged):
        return
    large = case.mapped(lambda a: a * scale if a.dtype.kind == "f" else a)
    for compare, right in zip(_pass_against_torch(impl, large, f" for inputs scaled by {scale:g}"), judged):
        if right:
            compare()


def gradients_accumulate(impl: Any, case: LayerCase) -> None:
    """Two backward calls after one forward: parameter gradients add up (+=), to twice what the layer's own first
    backward gave, and grad of input is the same twice. Against its own results, not torch's: a wrong backward
    fails the value checks, not this one."""
    built = build(impl, case)
    upstream = truth(built, case).grad_outputs
    inputs = _copies(case.inputs)
    forward_later(built, case, inputs)  # forward, backward, grad_parameters(), backward, grad_parameters(): one trip
    first = promise(built, case, "backward", *inputs, *_copies(upstream))
    once = promise(built, case, "grad_parameters")
    second = promise(built, case, "backward", *inputs, *_copies(upstream))
    twice = promise(built, case, "grad_parameters")
    first = _snapshot(_each(resolved(first), f"{case.spec.name}.backward", _grad_names(case)))
    once = {name: np.array(g, copy=True) for name, g in zip(built.names, _checked(built, case, resolved(once),
                                                                                  "grad_parameters"))}
    second = _each(resolved(second), f"{case.spec.name}.backward", _grad_names(case))
    _assert_own_grad_inputs(second, first, case, where=" from a second backward after the same forward (the first's)")
    replaced = "the second backward replaced the first instead of adding to it: accumulate parameter gradients " \
               "(grad += ...), zero_grad() resets them"
    for got, name in zip(_checked(built, case, resolved(twice), "grad_parameters"), built.names):
        assert_close(f"grad of {name} after two backward calls (must add up to twice the first's)", got,
                     2 * once[name], case.spec.tolerance, dtype=_float_dtype(got),
                     mistakes=lambda name=name: {replaced: once[name]})


def zero_grad_zeroes_buffers(impl: Any, case: LayerCase) -> None:
    """zero_grad() zeroes the very arrays grad_parameters() handed out (an optimizer holds on to them)."""
    built = build(impl, case)
    expected = truth(built, case)
    inputs = _copies(case.inputs)
    forward_later(built, case, inputs)  # with grad_parameters(): one round trip
    later(f"{case.spec.name}.backward", method(built.layer, "backward", case.spec.name), *inputs,
          *_copies(expected.grad_outputs))
    held = grads(built, case)
    call(f"{case.spec.name}.zero_grad()", built.layer.zero_grad)
    for array, name in zip(held, built.names):
        if np.any(array != 0):
            raise CheckFailure(f"grad of {name}: the array grad_parameters() returned before zero_grad() is not zero "
                               "after it: zero_grad() must fill the buffers in place (g[...] = 0), not replace them")
    for again, array, name in zip(grads(built, case), held, built.names):
        if again is not array:
            raise CheckFailure(f"grad of {name}: grad_parameters() returns a different array after zero_grad(): "
                               "keep the same buffers, so an optimizer holding them sees every update")


def inputs_not_modified(impl: Any, case: LayerCase) -> None:
    built = build(impl, case)
    expected = truth(built, case)
    inputs, upstream = _copies(case.inputs), _copies(expected.grad_outputs)
    names = case.spec.input_names
    forward(built, case, inputs)
    for name, array, original in zip(names, inputs, case.inputs):
        _assert_unchanged("forward", f"its {name}", array, original)
    backward(built, case, inputs, upstream)
    for name, array, original in zip(names, inputs, case.inputs):
        _assert_unchanged("backward", f"its {name}", array, original)
    for k, (array, original) in enumerate(zip(upstream, expected.grad_outputs)):
        label = "grad_output" if len(upstream) == 1 else f"the gradient of {case.spec.output_names[k]}"
        _assert_unchanged("backward", label, array, original)


# A backward may run its forward again once or twice (a layer that caches nothing recomputes what it needs); one by
# central differences over its own forward runs it twice per input and parameter element.
FORWARD_CALLS_IN_BACKWARD = 2


def train_mode_cases(spec: Any) -> st.SearchStrategy[LayerCase]:
    """Training-mode cases where the layer has that mode (random ones too: Dropout's): a course may define backward
    in training mode only, and counting calls needs no value of the twin's."""
    modes = tuple(mode for mode in (*spec.modes, *spec.random_modes) if mode == "train")
    return layer_cases(spec, modes=modes or None)


def backward_is_derived_not_numerical(impl: Any, case: LayerCase) -> None:
    """backward calls the submission's forward (any of its layers') at most FORWARD_CALLS_IN_BACKWARD times: it
    is derived, not central differences of the forward. The sandbox counts the calls (helpers.ForwardCounter) and
    reports a number; the verdict is this side's."""
    built = build(impl, case)
    upstream = truth(built, case).grad_outputs
    inputs = _copies(case.inputs)
    forward_later(built, case, inputs)
    name = case.spec.name
    count = call(f"{name}.backward", beside(built.layer, "helpers").forward_calls_in_backward, built.layer, inputs,
                 _copies(upstream))
    if type(count) is not int:
        raise CheckFailure(f"the sandbox reported {describe(count)} as the number of forward calls in {name}.backward")
    if count > FORWARD_CALLS_IN_BACKWARD:
        raise CheckFailure(f"{name}.backward called forward {count} times for {_sizes(case, built)} (at most "
                           f"{FORWARD_CALLS_IN_BACKWARD} allowed): derive the gradient by hand; central differences "
                           "over the forward take two calls per input and parameter element")


def _sizes(case: LayerCase, built: Built) -> str:
    """The case's inputs and parameters: 'an input of 3x4 and parameters weight 2x4, bias 2'."""
    def shape(a: Any) -> str:
        return "x".join(str(n) for n in np.shape(a)) or "a scalar"

    inputs = f"an input of {shape(case.x)}" if len(case.inputs) == 1 else \
        "inputs " + ", ".join(f"{name} {shape(a)}" for name, a in zip(case.spec.input_names, case.inputs))
    parameters = ", ".join(f"{name} {shape(v)}" for name, v in zip(built.names, built.values))
    return inputs + (f" and parameters {parameters}" if parameters else " (no parameters)")


def _assert_unchanged(where: str, what: str, array: np.ndarray, original: np.ndarray) -> None:
    changed = ~((array == original) | (np.isnan(array) & np.isnan(original)))
    if changed.any():
        index = tuple(int(i) for i in np.argwhere(changed)[0])
        raise CheckFailure(f"{where} modified {what} in place: {int(changed.sum())} / {array.size} elements changed,"
                           f" first at index {index} ({original[index]:.6g} became {array[index]:.6g});"
                           " work on a copy (e.g. x = x.copy() or out = np.maximum(x, 0)) instead")


def float32_cases(spec: Any) -> st.SearchStrategy[LayerCase]:
    """float32_preserved's cases: any mode's, the inputs in float32, so a failure shows the case that failed."""
    return any_mode_cases(spec).map(lambda case: case.mapped(lambda a: a.astype(np.float32)))


def float32_preserved(impl: Any, case: LayerCase) -> None:
    """float32 in gives float32 out, forward and backward, with float32-accurate values (`float32_cases`): within
    float32's accuracy of the layer's own float64 results on the same values (`assert_float32`)."""
    built = build(impl, case)
    expected = truth(built, case)
    inputs = tuple(a.astype(np.float32) for a in case.inputs)
    upstream = tuple(g.astype(np.float32) for g in expected.grad_outputs)
    if case.random:  # the values are the mask's (tests/test_dropout.py checks those): the dtypes are this check's
        sent = Pass(built, case, inputs, upstream, parameter_grads=False)
        for k, (out, want) in enumerate(zip(sent.outputs(), expected.outputs)):
            strict_array(out, what=f"float32 {_output_label(case, k)}", shape=want.shape, dtype=np.float32)
        for grad, x, name in zip(sent.grad_inputs(), inputs, case.spec.input_names):
            if case.spec.graded_gradient(name):
                strict_array(grad, what=f"float32 grad of {name}", shape=x.shape, dtype=np.float32)
        return
    own = one_pass(build(impl, case), case, tuple(a.astype(np.float64) for a in case.inputs),
                   _copies(expected.grad_outputs))
    usable = [a for a in (*own.outputs, *own.grad_inputs) if _float32_reference(a) is not None]
    scale = max(1.0, *[float(np.abs(a).max(initial=0)) for a in usable])
    tolerance = Tolerance(FLOAT32.rtol, FLOAT32.atol * scale)
    sent = Pass(built, case, inputs, upstream, parameter_grads=False)
    for k, (out, mine, want) in enumerate(zip(sent.outputs(), own.outputs, expected.outputs)):
        assert_float32(f"float32 {_output_label(case, k)}", out, mine, want.shape, tolerance)
    for grad, mine, x, name in zip(sent.grad_inputs(), own.grad_inputs, inputs, case.spec.input_names):
        if case.spec.graded_gradient(name):
            assert_float32(f"float32 grad of {name}", grad, mine, x.shape, tolerance)


def _float32_reference(mine: Any) -> np.ndarray | None:
    """The layer's own float64 result, when a float32 run can be held to its values: a finite float array."""
    usable = isinstance(mine, np.ndarray) and mine.dtype.kind == "f" and bool(np.all(np.isfinite(mine)))
    return mine if usable else None


def assert_float32(what: str, got: Any, mine: Any, shape: tuple[int, ...], tolerance: Tolerance) -> None:
    """`got` is float32, within float32's accuracy of `mine` (the implementation's own float64 result for the same
    values). Where that result is unusable (not an array, not finite), only float32 itself is checked: what is wrong
    with the float64 result is for the value checks to say, against torch."""
    reference = _float32_reference(mine)
    if reference is None:
        strict_array(got, what=what, shape=mine.shape if isinstance(mine, np.ndarray) else shape, dtype=np.float32)
        return
    assert_close(f"{what} (against its own float64 result)", got, reference, tolerance, dtype=np.float32)


def no_stale_cache(impl: Any, case: LayerCase) -> None:
    """forward(other); forward(x); backward(x, g) gives what a fresh layer of its own gives for forward(x);
    backward(x, g): nothing cached from the first call leaks. Against its own results, not torch's."""
    fresh, used = build(impl, case), build(impl, case)
    upstream = truth(fresh, case).grad_outputs
    want = one_pass(fresh, case, _copies(case.inputs), _copies(upstream))
    other = case.mapped(_other_values)
    forward_later(used, case, _copies(other.inputs))  # with the pass below
    got = one_pass(used, case, _copies(case.inputs), _copies(upstream))

    def earlier() -> OwnPass:  # what the layer gives for the first call's input: a stale cache's result
        return one_pass(build(impl, other), other, _copies(other.inputs), _copies(upstream))

    _assert_own_pass(got, want, case, where=" after a forward of other values (a fresh layer's own result)",
                     stale=("it equals the result for the previous forward's input: something computed in the first "
                            "forward call was kept and reused", earlier))


def batch_size_changes_between_passes(impl: Any, case: LayerCase) -> None:
    """Forward and backward on the case's batch, on a batch of another size, then on the first again: each pass
    gives what a fresh layer of its own gives on that batch, parameter gradients after zero_grad. Nothing may
    outlive a pass: a list of inputs that grows with every forward, a buffer sized to the first batch."""
    built = build(impl, case)
    other = case.mapped(lambda a: np.concatenate([-a[::-1], a[:1]]))  # one sample more, other values, same conditions
    passes = (case, other, case)
    sizes = f"batches of {', '.join(str(len(this.x)) for this in passes)} samples"
    for number, this in enumerate(passes, start=1):
        upstream = truth(built, this).grad_outputs  # this batch's upstream gradient
        want = one_pass(build(impl, this), this, _copies(this.inputs), _copies(upstream))
        call(f"{case.spec.name}.zero_grad()", built.layer.zero_grad)
        got = one_pass(built, this, _copies(this.inputs), _copies(upstream))
        _assert_own_pass(got, want, this, where=f" in pass {number} of 3 ({sizes}; a fresh layer's own result)")


@dataclasses.dataclass(frozen=True)
class OwnPass:
    """What a layer gave for one forward and backward: its outputs, input gradients and parameter gradients, copied
    as they were then (a later call may reuse the very buffers)."""

    outputs: tuple[Any, ...]
    grad_inputs: tuple[Any, ...]
    grad_parameters: dict[str, np.ndarray]


def one_pass(built: Built, case: LayerCase, inputs: tuple[np.ndarray, ...],
             upstream: tuple[np.ndarray, ...]) -> OwnPass:
    """forward, backward and grad_parameters(), in one round trip, each result as it was when its call returned."""
    sent = Pass(built, case, inputs, upstream)
    outputs, grad_inputs = _snapshot(sent.outputs()), _snapshot(sent.grad_inputs())
    return OwnPass(outputs, grad_inputs, {n: np.array(g, copy=True) for n, g in zip(built.names, sent.parameter_grads())})


def _float_dtype(array: np.ndarray) -> np.dtype:
    """Gradient buffers may be any float dtype; their shape and values are what the contract fixes."""
    return array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)


def _comparable(value: Any) -> bool:
    """A result of the layer's own that another can be held to: a float array (anything else is for the value
    checks to report, against torch)."""
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _assert_own_grad_inputs(got: tuple[Any, ...], want: tuple[Any, ...], case: LayerCase, *, where: str,
                            mistakes: Callable[[int], dict[str, np.ndarray]] | None = None) -> None:
    for k, (grad, mine, name) in enumerate(zip(got, want, case.spec.input_names)):
        if _comparable(mine) and case.spec.graded_gradient(name):
            assert_close(f"grad of {name}{where}", grad, mine, case.spec.tolerance, dtype=mine.dtype,
                         mistakes=None if mistakes is None else lambda k=k: mistakes(k))


def _assert_own_pass(got: OwnPass, want: OwnPass, case: LayerCase, *, where: str,
                     stale: tuple[str, Callable[[], OwnPass]] | None = None) -> None:
    """One pass against another of the layer's own (outputs, input gradients, parameter gradients); `stale`: a
    hint and the pass whose result, when this one equals it, the hint names."""
    hint, earlier = stale if stale is not None else ("", None)

    def named(pick: Callable[[OwnPass], Any]) -> dict[str, np.ndarray]:
        value = pick(earlier()) if earlier is not None else None
        return {hint: value} if _comparable(value) else {}

    for k, (out, mine) in enumerate(zip(got.outputs, want.outputs)):
        if _comparable(mine):
            assert_close(f"{_output_label(case, k)}{where}", out, mine, case.spec.tolerance, dtype=mine.dtype,
                         mistakes=lambda k=k: named(lambda run: run.outputs[k]))
    _assert_own_grad_inputs(got.grad_inputs, want.grad_inputs, case, where=where,
                            mistakes=lambda k: named(lambda run: run.grad_inputs[k]))
    for name, mine in want.grad_parameters.items():
        assert_close(f"grad of {name}{where}", got.grad_parameters[name], mine, case.spec.tolerance,
                     dtype=_float_dtype(mine), mistakes=lambda name=name: named(lambda run: run.grad_parameters[name]))


def train_eval_switch(impl: Any, case: LayerCase) -> None:
    """`training` is True after construction, and train() / eval() switch it. Each step and its reading of
    `training` go in one round trip (helpers.attribute), and each step is judged before the next is made."""
    name = case.spec.name
    attribute = beside(impl, "helpers").attribute
    layer = None
    for step, expected in (("after construction", True), ("eval()", False), ("train()", True)):
        what = f"constructing {case!r}" if layer is None else f"{name}.{step}"
        with pipelined(impl, what):
            if layer is None:
                layer = call(what, case.spec.make, impl, case.args)
            else:
                call(what, method(layer, step[:-2], name))
            with pipelined(impl, f"reading {name}.training"):
                got = call(f"reading {name}.training", attribute, layer, "training")
        layer, got = resolved(layer), resolved(got)
        if got is not expected:
            raise CheckFailure(f"{name}.training is {got!r} {'' if step.startswith('after') else 'after '}{step},"
                               f" expected {expected}")


def sequential_propagates_mode(impl: Any) -> None:
    """train() and eval() on a Sequential reach every child, and eval-mode children behave as in eval."""
    children = [call("constructing Dropout(p=0.5)", impl.Dropout, 0.5),
                call("constructing Linear(3, 3)", impl.Linear, 3, 3)]
    model = call("constructing Sequential(Dropout(0.5), Linear(3, 3))", impl.Sequential, *children)
    for mode, expected in (("eval", False), ("train", True), ("eval", False)):
        call(f"Sequential.{mode}()", method(model, mode, "Sequential"))
        for child in children:
            if getattr(child, "training", None) is not expected:
                raise CheckFailure(f"after Sequential.{mode}(), its child {type(child).__name__} has training ="
                                   f" {getattr(child, 'training', None)!r}: {mode}() must reach every child")
    x = np.random.default_rng(0).standard_normal((4, 3))
    first = call("Sequential.forward", model.forward, x)
    second = call("Sequential.forward", model.forward, x)
    assert_close("a second eval-mode forward of the same input (must be deterministic: no dropout in eval)",
                 second, np.asarray(first, dtype=np.float64), Tolerance(0.0, 0.0))


def sequential_backward_keeps_the_dropout_mask(impl: Any) -> None:
    """Sequential(Dropout(0.5)) in training: backward scales the upstream gradient exactly as its forward scaled the
    input (output / input, elementwise: the forward's own mask and scale). A backward that runs the children's
    forward again draws a new mask."""
    rng = np.random.default_rng(0)
    x, g = rng.uniform(0.5, 1.5, (8, 16)), rng.uniform(0.5, 1.5, (8, 16))  # no zeros: output / input is the scale
    dropout = call("constructing Dropout(p=0.5)", impl.Dropout, 0.5)
    model = call("constructing Sequential(Dropout(0.5))", impl.Sequential, dropout)
    call("Sequential.train()", method(model, "train", "Sequential"))
    y = strict_array(call("Sequential.forward", model.forward, x.copy()), what="output", shape=x.shape, dtype=np.float64)
    grad = call("Sequential.backward", model.backward, x.copy(), g.copy())
    assert_close("grad of input through the Dropout (the upstream gradient scaled as the forward scaled its input: "
                 "output / input; another mask means backward ran the children's forward again)", grad, g * y / x,
                 Tolerance(1e-9, 1e-12))


def sequential_backward_updates_running_statistics_once(impl: Any) -> None:
    """Sequential(BatchNorm1d(4)) in training: forward then backward leaves the running statistics as forward alone
    leaves them (on a model of its own): one update per forward. A backward that runs the children's forward again
    updates them twice."""
    rng = np.random.default_rng(0)
    x, g = 1.0 + 2.0 * rng.standard_normal((8, 4)), rng.standard_normal((8, 4))

    def trained_forward() -> tuple[Any, Any]:
        norm = call("constructing BatchNorm1d(4)", impl.BatchNorm1d, 4)
        model = call("constructing Sequential(BatchNorm1d(4))", impl.Sequential, norm)
        call("Sequential.train()", method(model, "train", "Sequential"))
        call("Sequential.forward", model.forward, x.copy())
        return norm, model

    alone, _ = trained_forward()
    expected = {name: getattr(alone, name, None) for name in ("running_mean", "running_var")}
    norm, model = trained_forward()
    call("Sequential.backward", model.backward, x.copy(), g.copy())
    for name, want in expected.items():
        if _comparable(want):  # a BatchNorm1d without them fails its own checks (forward matches torch)
            assert_close(f"{name} after forward and backward (as after the forward alone: backward must not run the "
                         "children's forward again)", getattr(norm, name, None), want, Tolerance(1e-12, 1e-12),
                         dtype=want.dtype)
