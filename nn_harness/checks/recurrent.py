"""The checks that matter for recurrent sequence layers (RNN, LSTM: `LayerSpec.recurrent`), where hand-written
backward passes go wrong most: the gradient through time, into the initial state, and on long saturating sequences.

The generic checks (nn_harness/checks/layer.py) already compare every gradient with torch on drawn sequences; these
isolate one path of the gradient each, so a failure says which path is broken.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st

import reference
from nn_harness.cases import strategies as s
from nn_harness.cases.layer_case import LayerCase, build, layer_cases
from nn_harness.cases.registry import LayerSpec
from nn_harness.checks.compare import assert_close
from nn_harness.checks.layer import Pass, assert_grad_inputs, assert_outputs

SATURATING = (10.0, 1000.0)  # input scales that drive tanh and the sigmoid gates into their flat tails


def sequence_cases(steps: st.SearchStrategy[int], *,
                   scales: tuple[float, ...] = (1.0,)) -> Callable[[LayerSpec], st.SearchStrategy[LayerCase]]:
    """The spec's cases with sequence lengths drawn from `steps` and inputs of `scales` (initial states of scale 1)."""
    def cases(spec: LayerSpec) -> st.SearchStrategy[LayerCase]:
        states = len(spec.input_names) - 1
        return layer_cases(dataclasses.replace(spec, inputs=lambda args: s.recurrent_inputs(
            args, states=states, steps=steps, scales=scales)))
    return cases


one_step = sequence_cases(st.just(1))
several_steps = sequence_cases(st.integers(2, 6))
long_saturating = sequence_cases(st.integers(50, 100), scales=SATURATING)


def _at_steps(case: LayerCase, steps: slice) -> Callable[[tuple[tuple[int, ...], ...]], tuple[np.ndarray, ...]]:
    """The case's upstream gradient kept at these time steps only (axis 1), zero at the others."""
    def upstream(shapes: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, ...]:
        kept = []
        for g in case.upstream(shapes):
            only = np.zeros_like(g)
            only[:, steps] = g[:, steps]
            kept.append(only)
        return tuple(kept)
    return upstream


def _matches_torch(impl: Any, case: LayerCase, steps: slice, where: str,
                   mistakes: Callable[[str, np.ndarray], dict[str, np.ndarray]] | None = None) -> None:
    """forward, then backward with the upstream gradient at `steps` only: the output and every input's and
    parameter's gradient against torch's; `mistakes(input name, torch's gradient)`: what known mistakes would give,
    for the hint."""
    built = build(impl, case)
    expected = reference.run_layer(built.twin, built.values, case.inputs, _at_steps(case, steps),
                                   training=case.mode == "train", buffers=built.buffers)
    sent = Pass(built, case, tuple(a.copy() for a in case.inputs), tuple(g.copy() for g in expected.grad_outputs))
    assert_outputs(sent.outputs(), expected, case, case.spec.tolerance, where=where)
    assert_grad_inputs(sent.grad_inputs(), expected, case, where=where, mistakes=None if mistakes is None else
                        lambda k: mistakes(case.spec.input_names[k], expected.grad_inputs[k]))
    # Not _assert_grads: its hints are made with the full upstream gradient, this check's is masked.
    for grad, name in zip(sent.parameter_grads(), built.names):
        assert_close(f"grad of {name}{where}", grad, expected.grad_parameters[name], case.spec.tolerance,
                     dtype=grad.dtype if grad.dtype.kind == "f" else np.float64)


def one_step_sequence(impl: Any, case: LayerCase) -> None:
    """A sequence of one step (`one_step` cases): one cell step, the gradient flowing from it straight into the
    input and the initial state, with nothing through time."""
    _matches_torch(impl, case, slice(None), " on a sequence of one step")


def gradient_only_at_last_step(impl: Any, case: LayerCase) -> None:
    """Upstream gradient at the last step only (`several_steps` cases): all of it reaches the earlier steps' inputs
    and the initial state through the hidden state (through time), none of it is lost on the way."""
    def mistakes(name: str, want: np.ndarray) -> dict[str, np.ndarray]:
        if name != "input":  # a zero initial-state gradient has other causes too: the general hints say it
            return {}
        stopped = np.zeros_like(want)
        stopped[:, -1] = want[:, -1]
        return {"the gradient stopped at the last step: backward must carry each step's hidden-state gradient "
                "(dh_prev, and dc_prev for an LSTM) back into the step before, added to that step's own upstream "
                "gradient": stopped}

    _matches_torch(impl, case, slice(-1, None), " with an upstream gradient at the last step only", mistakes)


def gradient_only_at_first_step(impl: Any, case: LayerCase) -> None:
    """Upstream gradient at the first step only (`several_steps` cases): it reaches the first input and the initial
    state, and nothing reaches the later inputs (the first output does not depend on them)."""
    _matches_torch(impl, case, slice(0, 1), " with an upstream gradient at the first step only")


def long_saturating_sequence(impl: Any, case: LayerCase) -> None:
    """50 to 100 steps of inputs of size 10 to 1000 (`long_saturating` cases): tanh and the gates saturate, an LSTM's
    cell state grows with every step; forward and backward stay finite and right (a sigmoid as 1 / (1 + exp(-x))
    overflows to a warning there, a cell state that is not carried drifts)."""
    _matches_torch(impl, case, slice(None), " on a long saturating sequence")
