"""The checks on one layer case: each a small function that returns nothing or raises one CheckFailure.

Forward and backward against the torch twin, backward against finite differences of the implementation's own
forward, and the contract's rules (gradients accumulate, zero_grad, inputs untouched, dtypes, no stale cache, batch
sizes changing between passes).
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import reference
from nn_harness.cases.layer_case import Built, LayerCase, any_mode_cases, build, checked_parameter_list, parameter_list, truth
from nn_harness.cases.registry import Tolerance
from nn_harness.cases.returned import strict_array
from nn_harness.checks import finite_diff as fd
from nn_harness.checks.compare import CheckFailure, Recheck, assert_close
from nn_harness.sandbox.client import beside
from nn_harness.sandbox.student import call, describe, method

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
    return _each(got, f"{name}.backward", tuple(f"grad of {n}" for n in case.spec.input_names))


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


def _assert_grads(built: Built, case: LayerCase, expected: dict[str, np.ndarray], tolerance: Tolerance,
                  *, label: str = "grad of {}", scale: float = 1.0, overwritten: bool = False,
                  impl: Any = None) -> None:
    """Every parameter gradient against `expected`; `overwritten`: the gradients after two backward calls, where
    one backward's worth means the second replaced the first; `impl`, when given: coincident hint factors are told
    apart on a larger batch (`_on_larger_batch`)."""
    for got, name in zip(grads(built, case), built.names):
        # Gradient buffers may be any float dtype; their shape and values are what the contract fixes.
        dtype = got.dtype if got.dtype.kind == "f" else np.float64
        assert_close(label.format(name), got, expected[name], tolerance, dtype=dtype, factors=case.factors,
                     mistakes=lambda name=name: _parameter_mistakes(built, case, name, scale, overwritten),
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


def _parameter_mistakes(built: Built, case: LayerCase, name: str, scale: float,
                        overwritten: bool) -> dict[str, np.ndarray]:
    """What a parameter gradient would be after common mistakes: one sample's contribution only; after two backward
    calls (`overwritten`), one backward's worth: the second replaced the first."""
    mistakes = {}
    if overwritten:
        mistakes["the second backward replaced the first instead of adding to it: accumulate parameter gradients "
                 "(grad += ...), zero_grad() resets them"] = truth(built, case).grad_parameters[name]
    for sample in (0, case.x.shape[0] - 1):
        def upstream(shapes: tuple[tuple[int, ...], ...], sample: int = sample) -> tuple[np.ndarray, ...]:
            gs = tuple(np.zeros(shape) for shape in shapes)
            for g, full in zip(gs, case.upstream(shapes)):
                g[sample] = full[sample]
            return gs

        alone = reference.run_layer(built.twin, built.values, case.inputs, upstream, training=case.mode == "train",
                                    buffers=built.buffers).grad_parameters[name]
        mistakes[f"it equals sample {sample}'s contribution alone: a parameter gradient sums over the batch"] = scale * alone
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
    inputs = _copies(case.inputs)
    forward(built, case, inputs)
    grad_inputs = backward(built, case, inputs, _copies(expected.grad_outputs))
    assert_grad_inputs(grad_inputs, expected, case, impl=impl,
                        mistakes=lambda k: _confusions(built, case, lambda r: r.grad_inputs[k]))
    _assert_grads(built, case, expected.grad_parameters, case.spec.tolerance, impl=impl)


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
    tensors = {**{input_names[k]: inputs[k] for k in differentiable},
               **dict(zip(built.names, parameter_list(built.layer, "parameters", case, built.names, shapes)))}
    forward_method = method(built.layer, "forward", name)

    def output(value: Any) -> np.ndarray:
        """Every output, checked, flattened and joined."""
        outs = _each(value, f"{name}.forward", case.spec.output_names)
        return np.concatenate([strict_array(out, what=_output_label(case, k), shape=shape, dtype=np.float64).reshape(-1)
                               for k, (out, shape) in enumerate(zip(outs, out_shapes))])

    def f() -> np.ndarray:
        return output(call(f"{name}.forward", forward_method, *inputs))

    f()
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

    def backward_with(upstream: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        rows = call(f"{name}.zero_grad(), forward and backward", beside(impl, "helpers").backward_rows, built.layer,
                    inputs, [split(v) for v in upstream])
        return [gradients(row) for row in rows]

    out_size = sum(sizes)
    out_shape = out_shapes[0] if len(out_shapes) == 1 else (out_size,)
    if out_size <= fd.FULL_LIMIT and all(t.size <= fd.FULL_LIMIT for t in tensors.values()):
        rows = backward_with(list(np.eye(out_size)))
        for tensor_name, tensor in tensors.items():
            analytical = np.stack([row[tensor_name].reshape(-1) for row in rows]) if rows else \
                np.zeros((0, tensor.size))
            numerical, modified = fd.numerical_jacobian(forward_method, inputs, tensor, result=output,
                                                        what=f"{name}.forward", argument_names=input_names)
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


def gradients_accumulate(impl: Any, case: LayerCase) -> None:
    """Two backward calls after one forward: parameter gradients add up (+=), grad of input is the same twice."""
    built = build(impl, case)
    expected = truth(built, case)
    inputs = _copies(case.inputs)
    forward(built, case, inputs)
    first = backward(built, case, inputs, _copies(expected.grad_outputs))
    # "The second replaced the first" is the hint only where one backward's worth was right after the first.
    once = [np.array(g, dtype=np.float64) for g in grads(built, case)]
    right_once = all(np.allclose(g, expected.grad_parameters[name], case.spec.tolerance.rtol, case.spec.tolerance.atol)
                     for g, name in zip(once, built.names))
    second = backward(built, case, inputs, _copies(expected.grad_outputs))
    assert_grad_inputs(first, expected, case, where=" from the first backward")
    assert_grad_inputs(second, expected, case, where=" from a second backward after the same forward")
    doubled = {name: 2 * g for name, g in expected.grad_parameters.items()}
    _assert_grads(built, case, doubled, case.spec.tolerance, label="grad of {} after two backward calls (must add up)",
                  scale=2.0, overwritten=right_once)


def zero_grad_zeroes_buffers(impl: Any, case: LayerCase) -> None:
    """zero_grad() zeroes the very arrays grad_parameters() handed out (an optimizer holds on to them)."""
    built = build(impl, case)
    expected = truth(built, case)
    inputs = _copies(case.inputs)
    forward(built, case, inputs)
    backward(built, case, inputs, _copies(expected.grad_outputs))
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
    """float32 in gives float32 out, forward and backward, with float32-accurate values (`float32_cases`)."""
    built = build(impl, case)
    expected = truth(built, case)
    inputs = tuple(a.astype(np.float32) for a in case.inputs)
    upstream = tuple(g.astype(np.float32) for g in expected.grad_outputs)
    if case.random:  # the values are the mask's (tests/test_dropout.py checks those): the dtypes are this check's
        for k, (out, want) in enumerate(zip(forward(built, case, inputs), expected.outputs)):
            strict_array(out, what=f"float32 {_output_label(case, k)}", shape=want.shape, dtype=np.float32)
        for grad, x, name in zip(backward(built, case, inputs, upstream), inputs, case.spec.input_names):
            if case.spec.graded_gradient(name):
                strict_array(grad, what=f"float32 grad of {name}", shape=x.shape, dtype=np.float32)
        return
    largest = [float(np.abs(a).max(initial=0)) for a in (*expected.outputs, *expected.grad_inputs) if a is not None]
    scale = max(1.0, *largest)
    tolerance = Tolerance(FLOAT32.rtol, FLOAT32.atol * scale)
    for k, (out, want) in enumerate(zip(forward(built, case, inputs), expected.outputs)):
        assert_close(f"float32 {_output_label(case, k)}", out, want, tolerance, dtype=np.float32)
    for grad, want, name in zip(backward(built, case, inputs, upstream), expected.grad_inputs, case.spec.input_names):
        if case.spec.graded_gradient(name):
            assert_close(f"float32 grad of {name}", grad, want, tolerance, dtype=np.float32)


def no_stale_cache(impl: Any, case: LayerCase) -> None:
    """forward(other); forward(x); backward(x, g) must be right for x: nothing cached from the first call leaks."""
    built = build(impl, case)
    expected = truth(built, case)
    inputs = _copies(case.inputs)
    forward(built, case, case.mapped(_other_values).inputs)
    forward(built, case, inputs)
    grad_inputs = backward(built, case, inputs, _copies(expected.grad_outputs))
    assert_grad_inputs(grad_inputs, expected, case, where=" after two forward calls")
    _assert_grads(built, case, expected.grad_parameters, case.spec.tolerance,
                  label="grad of {} after two forward calls")


def batch_size_changes_between_passes(impl: Any, case: LayerCase) -> None:
    """Forward and backward on the case's batch, on a batch of another size, then on the first again: each pass
    right for its own batch, parameter gradients after zero_grad. Nothing may outlive a pass: a list of inputs
    that grows with every forward, a buffer sized to the first batch."""
    built = build(impl, case)
    other = case.mapped(lambda a: np.concatenate([-a[::-1], a[:1]]))  # one sample more, other values, same conditions
    passes = (case, other, case)
    sizes = f"batches of {', '.join(str(len(this.x)) for this in passes)} samples"
    for number, this in enumerate(passes, start=1):
        expected = truth(built, this)  # the twin's run, the upstream gradient and hints for this batch
        where = f" in pass {number} of 3 ({sizes})"
        call(f"{case.spec.name}.zero_grad()", built.layer.zero_grad)
        inputs = _copies(this.inputs)
        assert_outputs(forward(built, this, inputs), expected, this, case.spec.tolerance, where=where)
        grad_inputs = backward(built, this, inputs, _copies(expected.grad_outputs))
        assert_grad_inputs(grad_inputs, expected, this, where=where)
        _assert_grads(built, this, expected.grad_parameters, case.spec.tolerance, label=f"grad of {{}}{where}")


def train_eval_switch(impl: Any, case: LayerCase) -> None:
    """`training` is True after construction, and train() / eval() switch it."""
    name = case.spec.name
    layer = call(f"constructing {case!r}", case.spec.make, impl, case.args)
    for step, expected in (("after construction", True), ("eval()", False), ("train()", True)):
        if step != "after construction":
            call(f"{name}.{step}", method(layer, step[:-2], name))
        got = getattr(layer, "training", None)
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
