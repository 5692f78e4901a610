"""Kinks and ties, where the derivative is not unique: any valid subgradient passes, invalid ones fail.

The contract does not fix torch's conventions here (ReLU'(0) = 0, max-pooling's gradient to the first of tied
maxima); these checks accept every answer that is a valid subgradient, and nothing else.
"""

import dataclasses
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from nn_harness.cases import strategies as s
from nn_harness.cases.layer_case import LayerCase, build, layer_cases, truth
from nn_harness.cases.registry import EXACT, LayerSpec
from nn_harness.cases.returned import strict_array
from nn_harness.checks.compare import CheckFailure, assert_close
from nn_harness.checks.layer import Pass


def _with_inputs(spec: LayerSpec, inputs: Any) -> st.SearchStrategy[LayerCase]:
    return layer_cases(dataclasses.replace(spec, inputs=inputs))


def kink_cases(spec: LayerSpec) -> st.SearchStrategy[LayerCase]:
    """Ordinary values with about half of them set to exactly 0."""
    def zeros_mixed_in(pair: tuple[np.ndarray, int]) -> np.ndarray:
        values, seed = pair
        return np.where(np.random.default_rng(seed).random(values.shape) < 0.5, 0.0, values)

    return _with_inputs(spec, lambda args: s.any_shapes().flatmap(
        lambda shape: st.tuples(s.arrays(shape), s.seeds()).map(zeros_mixed_in)))


def subgradient_at_kink(impl: Any, case: LayerCase) -> None:
    """Away from 0 the gradient is the derivative (torch's); at exactly 0, grad_output times any slope between the
    two one-sided slopes."""
    left, right = case.spec.kink_slopes(case.args)  # one-sided slopes at 0, from x < 0 and from x > 0
    low, high = min(left, right), max(left, right)
    built = build(impl, case)
    x, (g,) = case.x.copy(), case.upstream((case.x.shape,))
    (grad,) = Pass(built, case, (x,), (g,), outputs=False, parameter_grads=False).grad_inputs()
    grad = strict_array(grad, what="grad of input", shape=x.shape, dtype=np.float64)
    at_kink = x == 0
    assert_close("grad of input away from 0", np.where(at_kink, 0.0, grad),
                 np.where(at_kink, 0.0, truth(built, case).grad_input), EXACT)  # not constant slopes: ELU
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(at_kink & (g != 0), grad / g, low)
    outside = ~((slope >= low - 1e-12) & (slope <= high + 1e-12))
    if outside.any():
        index = tuple(int(i) for i in np.argwhere(outside)[0])
        raise CheckFailure(f"grad of input at x == 0: {int(outside.sum())} elements have a slope outside [{low}, {high}]"
                           f" (any value in between is a valid subgradient); at index {index} grad_output is"
                           f" {g[index]:.6g} and grad of input {grad[index]:.6g} (slope {slope[index]:.6g})")


def tie_cases(spec: LayerSpec) -> st.SearchStrategy[LayerCase]:
    """Integers 0..2: most pooling windows have several tied maxima."""
    def small_integers(pair: tuple[tuple[int, ...], int]) -> np.ndarray:
        shape, seed = pair
        return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)

    return _with_inputs(spec, lambda args: st.tuples(
        s.image_shapes(2, args["kernel_size"], args.get("padding", 0)), s.seeds()).map(small_integers))


def maxpool_ties_conserve_gradient(impl: Any, case: LayerCase) -> None:
    """Gradient reaches only window maxima, and none is lost or duplicated: per (sample, channel) the total equals
    the total upstream gradient. First-of-ties and even splits pass; the full gradient to every tied maximum fails."""
    built = build(impl, case)
    x = case.x.copy()
    maxima = _window_maxima(built.twin, x)
    (g,) = case.upstream((maxima.shape,))
    sent = Pass(built, case, (x,), (g,), parameter_grads=False)
    (out,) = sent.outputs()
    strict_array(out, what="output", shape=maxima.shape, dtype=np.float64)
    (grad,) = sent.grad_inputs()
    grad = strict_array(grad, what="grad of input", shape=x.shape, dtype=np.float64)
    stray = (grad != 0) & ~_is_a_window_maximum(built.twin, x, maxima)
    if stray.any():
        index = tuple(int(i) for i in np.argwhere(stray)[0])
        raise CheckFailure(f"grad of input reaches {int(stray.sum())} elements that are not the maximum of any window,"
                           f" first at index {index} (value {x[index]:g}, gradient {grad[index]:.6g})")
    every_tie = "every tied maximum received its window's full gradient: give it to one of them (or split it)"
    assert_close("total gradient per (sample, channel): each window must pass on exactly its own gradient",
                 grad.sum(axis=(2, 3)), g.sum(axis=(2, 3)), EXACT,
                 mistakes=lambda: {every_tie: _to_every_tie(built.twin, x, maxima, g).sum(axis=(2, 3))})


def _windows(twin: torch.nn.MaxPool2d, maxima: np.ndarray):
    """(i, j, rows, cols) of every pooling window, clipped to the input (a loop over windows: test sizes are tiny,
    and this stays obviously right)."""
    (kh, kw), (sh, sw), (ph, pw) = (s.as_pair(v) for v in (twin.kernel_size, twin.stride, twin.padding))
    for i in range(maxima.shape[2]):
        for j in range(maxima.shape[3]):
            yield i, j, slice(max(i * sh - ph, 0), i * sh - ph + kh), slice(max(j * sw - pw, 0), j * sw - pw + kw)


def _window_maxima(twin: torch.nn.MaxPool2d, x: np.ndarray) -> np.ndarray:
    return twin(torch.tensor(x)).numpy()


def _is_a_window_maximum(twin: torch.nn.MaxPool2d, x: np.ndarray, maxima: np.ndarray) -> np.ndarray:
    """Elements equal to the maximum of at least one pooling window containing them."""
    hit = np.zeros(x.shape, dtype=bool)
    for i, j, rows, cols in _windows(twin, maxima):
        hit[:, :, rows, cols] |= x[:, :, rows, cols] == maxima[:, :, i, j][:, :, None, None]
    return hit


def _to_every_tie(twin: torch.nn.MaxPool2d, x: np.ndarray, maxima: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The known mistake: each window's full gradient to every one of its tied maxima."""
    grad = np.zeros(x.shape)
    for i, j, rows, cols in _windows(twin, maxima):
        ties = x[:, :, rows, cols] == maxima[:, :, i, j][:, :, None, None]
        grad[:, :, rows, cols] += ties * g[:, :, i, j][:, :, None, None]
    return grad
