"""The checks on one layer case: each a small function that returns nothing or raises one CheckFailure.

Forward and backward against the torch twin, backward against finite differences of the implementation's own
forward, and the contract's rules (gradients accumulate, zero_grad, inputs untouched, dtypes, no stale cache, batch
sizes changing between passes).
"""

import dataclasses
from typing import Any

import numpy as np
from hypothesis import strategies as st

import reference
from harness import finite_diff as fd
from harness.boundary import beside
from harness.cases import Built, LayerCase, any_mode_cases, build, checked_parameter_list, parameter_list, truth
from harness.compare import CheckFailure, Recheck, Tolerance, assert_close, strict_array
from harness.sandbox.student import call, method

FLOAT32 = Tolerance(rtol=1e-3, atol=1e-4)  # float32 against the float64 twin, relative to the largest value


def forward(built: Built, case: LayerCase, x: np.ndarray) -> Any:
    return call(f"{case.spec.name}.forward", method(built.layer, "forward", case.spec.name), x)


def backward(built: Built, case: LayerCase, x: np.ndarray, grad_output: np.ndarray) -> Any:
    return call(f"{case.spec.name}.backward", method(built.layer, "backward", case.spec.name), x, grad_output)


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
                     recheck=None if impl is None else _on_larger_batch(impl, case, name))


def _on_larger_batch(impl: Any, case: LayerCase, quantity: str) -> Recheck:
    """`quantity` ("output", "input": its gradient, or a parameter's name: its gradient) for the case's input with
    the batch grown from n to 2n + 1 samples of the same values (so every value condition of the case still holds):
    a hint factor that is the batch size follows it there, the constant 2 does not."""
    def run() -> tuple[object, np.ndarray, dict[str, float]]:
        larger = dataclasses.replace(case, x=np.concatenate([case.x, case.x, case.x[:1]]))
        built = build(impl, larger)
        expected = truth(built, larger)
        x = larger.x.copy()
        out = forward(built, larger, x)
        if quantity == "output":
            return out, expected.output, larger.factors
        grad_input = backward(built, larger, x, expected.grad_output.copy())
        if quantity == "input":
            return grad_input, expected.grad_input, larger.factors
        return dict(zip(built.names, grads(built, larger)))[quantity], expected.grad_parameters[quantity], larger.factors

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
        def upstream(shape: tuple[int, ...], sample: int = sample) -> np.ndarray:
            g = np.zeros(shape)
            g[sample] = case.upstream(shape)[sample]
            return g

        alone = reference.run_layer(built.twin, built.values, case.x, upstream, training=case.mode == "train",
                                    buffers=built.buffers).grad_parameters[name]
        mistakes[f"it equals sample {sample}'s contribution alone: a parameter gradient sums over the batch"] = scale * alone
    return mistakes


def _assert_grad_input(what: str, got: Any, expected: np.ndarray | None, case: LayerCase, **kwargs: Any) -> None:
    """grad of input vs torch's. Integer inputs (indices: Embedding) have none: what backward returns for them is
    not compared (the contract says None), their parameter gradients are."""
    if expected is not None:
        assert_close(what, got, expected, case.spec.tolerance, **kwargs)


def _other_values(x: np.ndarray) -> np.ndarray:
    """An input of the same shape and value conditions with other values: mirrored (indices within their own
    range, so they stay valid)."""
    return x.min() + x.max() - x[::-1] if x.dtype.kind in "iu" else -x[::-1].copy()


def forward_matches_torch(impl: Any, case: LayerCase) -> None:
    built = build(impl, case)
    expected = truth(built, case)
    out = forward(built, case, case.x.copy())
    assert_close("output", out, expected.output, case.spec.tolerance, factors=case.factors,
                 recheck=_on_larger_batch(impl, case, "output"))
    for name in built.buffers:
        assert_close(f"{name} after forward", getattr(built.layer, name), expected.buffers[name], case.spec.tolerance)


def backward_matches_torch(impl: Any, case: LayerCase) -> None:
    built = build(impl, case)
    expected = truth(built, case)
    x = case.x.copy()
    forward(built, case, x)
    grad_input = backward(built, case, x, expected.grad_output.copy())
    _assert_grad_input("grad of input", grad_input, expected.grad_input, case, factors=case.factors,
                       recheck=_on_larger_batch(impl, case, "input"))
    _assert_grads(built, case, expected.grad_parameters, case.spec.tolerance, impl=impl)


def backward_matches_finite_differences(impl: Any, case: LayerCase) -> None:
    """The implementation's backward against central differences of its own forward, in float64."""
    built = build(impl, case)
    name = case.spec.name
    x = case.x.copy()
    out_shape = strict_array(forward(built, case, x), what="output", shape=truth(built, case).output.shape,
                             dtype=np.float64).shape
    shapes = [v.shape for v in built.values]
    wrt_input = x.dtype.kind == "f"  # integer inputs (indices) have no gradient: the parameters' only
    tensors = {**({"input": x} if wrt_input else {}),
               **dict(zip(built.names, parameter_list(built.layer, "parameters", case, built.names, shapes)))}
    forward_method = method(built.layer, "forward", name)

    def output(value: Any) -> np.ndarray:
        return strict_array(value, what="output", shape=out_shape, dtype=np.float64)

    def gradients(row: tuple) -> dict[str, np.ndarray]:
        """Gradients of v . f w.r.t. every tensor, from one fresh forward and backward (helpers.backward_rows)."""
        out, grad_input, grad_parameters = row
        output(out)
        got = checked_parameter_list(grad_parameters, name, "grad_parameters", built.names, shapes)
        of_input = {"input": strict_array(grad_input, what="grad of input", shape=x.shape, dtype=np.float64)} \
            if wrt_input else {}
        return {**of_input, **{n: g.astype(np.float64) for n, g in zip(built.names, got)}}

    def backward_with(upstream: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        rows = call(f"{name}.zero_grad(), forward and backward", beside(impl, "helpers").backward_rows, built.layer,
                    x, upstream)
        return [gradients(row) for row in rows]

    out_size = int(np.prod(out_shape))
    if out_size <= fd.FULL_LIMIT and all(t.size <= fd.FULL_LIMIT for t in tensors.values()):
        rows = backward_with([np.eye(out_size)[k].reshape(out_shape) for k in range(out_size)])
        for tensor_name, tensor in tensors.items():
            analytical = np.stack([row[tensor_name].reshape(-1) for row in rows]) if rows else \
                np.zeros((0, tensor.size))
            numerical, modified = fd.numerical_jacobian(forward_method, (x,), tensor, result=output,
                                                        what=f"{name}.forward")
            fd.assert_jacobians_close(f"grad of {tensor_name}", analytical, numerical, out_shape, tensor.shape,
                                      modified=modified)
        return
    rng = np.random.default_rng([case.seed, 2])
    analytical: dict[str, list[float]] = {tensor_name: [] for tensor_name in tensors}
    numerical: dict[str, list[float]] = {tensor_name: [] for tensor_name in tensors}

    def f() -> np.ndarray:
        return output(forward(built, case, x))

    for _ in range(fd.DIRECTIONS):
        v = rng.standard_normal(out_shape)
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
    x = case.x.copy()
    forward(built, case, x)
    first = backward(built, case, x, expected.grad_output.copy())
    second = backward(built, case, x, expected.grad_output.copy())
    _assert_grad_input("grad of input from the first backward", first, expected.grad_input, case)
    _assert_grad_input("grad of input from a second backward after the same forward", second, expected.grad_input,
                       case)
    doubled = {name: 2 * g for name, g in expected.grad_parameters.items()}
    _assert_grads(built, case, doubled, case.spec.tolerance, label="grad of {} after two backward calls (must add up)",
                  scale=2.0, overwritten=True)


def zero_grad_zeroes_buffers(impl: Any, case: LayerCase) -> None:
    """zero_grad() zeroes the very arrays grad_parameters() handed out (an optimizer holds on to them)."""
    built = build(impl, case)
    expected = truth(built, case)
    x = case.x.copy()
    forward(built, case, x)
    backward(built, case, x, expected.grad_output.copy())
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
    x, g = case.x.copy(), expected.grad_output.copy()
    forward(built, case, x)
    _assert_unchanged("forward", "its input", x, case.x)
    backward(built, case, x, g)
    _assert_unchanged("backward", "its input", x, case.x)
    _assert_unchanged("backward", "grad_output", g, expected.grad_output)


def _assert_unchanged(where: str, what: str, array: np.ndarray, original: np.ndarray) -> None:
    changed = ~((array == original) | (np.isnan(array) & np.isnan(original)))
    if changed.any():
        index = tuple(int(i) for i in np.argwhere(changed)[0])
        raise CheckFailure(f"{where} modified {what} in place: {int(changed.sum())} / {array.size} elements changed,"
                           f" first at index {index} ({original[index]:.6g} became {array[index]:.6g});"
                           " work on a copy (e.g. x = x.copy() or out = np.maximum(x, 0)) instead")


def float32_cases(spec: Any) -> st.SearchStrategy[LayerCase]:
    """float32_preserved's cases: any mode's, the input in float32, so a failure shows the case that failed."""
    return any_mode_cases(spec).map(lambda case: dataclasses.replace(case, x=case.x.astype(np.float32)))


def float32_preserved(impl: Any, case: LayerCase) -> None:
    """float32 in gives float32 out, forward and backward, with float32-accurate values (`float32_cases`)."""
    built = build(impl, case)
    expected = truth(built, case)
    x = case.x.astype(np.float32)
    if case.random:  # the values are the mask's (tests/test_dropout.py checks those): the dtypes are this check's
        strict_array(forward(built, case, x), what="float32 output", shape=expected.output.shape, dtype=np.float32)
        strict_array(backward(built, case, x, expected.grad_output.astype(np.float32)), what="float32 grad of input",
                     shape=x.shape, dtype=np.float32)
        return
    scale = max(1.0, float(np.abs(expected.output).max(initial=0)), float(np.abs(expected.grad_input).max(initial=0)))
    tolerance = Tolerance(FLOAT32.rtol, FLOAT32.atol * scale)
    out = forward(built, case, x)
    assert_close("float32 output", out, expected.output, tolerance, dtype=np.float32)
    grad_input = backward(built, case, x, expected.grad_output.astype(np.float32))
    assert_close("float32 grad of input", grad_input, expected.grad_input, tolerance, dtype=np.float32)


def no_stale_cache(impl: Any, case: LayerCase) -> None:
    """forward(other); forward(x); backward(x, g) must be right for x: nothing cached from the first call leaks."""
    built = build(impl, case)
    expected = truth(built, case)
    x = case.x.copy()
    forward(built, case, _other_values(x))
    forward(built, case, x)
    grad_input = backward(built, case, x, expected.grad_output.copy())
    _assert_grad_input("grad of input after two forward calls", grad_input, expected.grad_input, case)
    _assert_grads(built, case, expected.grad_parameters, case.spec.tolerance,
                  label="grad of {} after two forward calls")


def batch_size_changes_between_passes(impl: Any, case: LayerCase) -> None:
    """Forward and backward on the case's batch, on a batch of another size, then on the first again: each pass
    right for its own batch, parameter gradients after zero_grad. Nothing may outlive a pass: a list of inputs
    that grows with every forward, a buffer sized to the first batch."""
    built = build(impl, case)
    other = np.concatenate([-case.x[::-1], case.x[:1]])  # one sample more, other values, same value conditions
    passes = (case.x, other, case.x)
    sizes = f"batches of {', '.join(str(len(x)) for x in passes)} samples"
    for number, x in enumerate(passes, start=1):
        this = dataclasses.replace(case, x=x)  # the twin's run, the upstream gradient and hints for this batch
        expected = truth(built, this)
        where = f"in pass {number} of 3 ({sizes})"
        call(f"{case.spec.name}.zero_grad()", built.layer.zero_grad)
        x = x.copy()
        assert_close(f"output {where}", forward(built, this, x), expected.output, case.spec.tolerance,
                     factors=this.factors)
        grad_input = backward(built, this, x, expected.grad_output.copy())
        assert_close(f"grad of input {where}", grad_input, expected.grad_input, case.spec.tolerance, factors=this.factors)
        _assert_grads(built, this, expected.grad_parameters, case.spec.tolerance, label=f"grad of {{}} {where}")


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
