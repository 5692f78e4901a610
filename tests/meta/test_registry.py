"""A spec bound to a namespace builds the layer and its twin from the classes that namespace defines; the twin's
results for a case are computed once."""

from types import SimpleNamespace

import numpy as np
import pytest

import impl
import reference
from nn_harness.cases.layer_case import Truths, build, layer_cases, twin_of
from nn_harness.cases.registry import SPECS
from tests.meta.test_strategies import draws


def test_sequential_takes_the_first_activation_the_namespace_defines():
    course = SimpleNamespace(Sequential=impl.Sequential, Linear=impl.Linear, ReLU=impl.ReLU, LeakyReLU=impl.LeakyReLU)
    spec = SPECS["Sequential"].bind(course)
    assert spec.needs == ("Sequential", "Linear", "ReLU")
    for case in draws(layer_cases(spec))[:5]:
        assert case.args["activation"] == "ReLU" and "activation='ReLU'" in repr(case)
        assert type(spec.make(course, case.args).modules[1]) is impl.ReLU
        assert type(spec.make(reference.nn, case.args)[1]) is reference.nn.ReLU


def test_sequential_without_any_activation_requires_them_all():
    spec = SPECS["Sequential"].bind(SimpleNamespace(Sequential=impl.Sequential, Linear=impl.Linear))
    assert spec.needs == ("Sequential", "Linear", "Tanh", "Sigmoid", "ReLU", "LeakyReLU")


# ------------------------------------------------------------------------------ the twins' results, once per case

def test_a_case_seen_before_gets_the_twins_results_it_got_then_read_only():
    case = draws(layer_cases(SPECS["Linear"]))[3]
    truths = Truths(8)
    first = truths(build(impl, case), case)
    again = truths(build(impl, case), case)
    assert again is first and len(truths.results) == 1
    np.testing.assert_array_equal(first.output, reference.run_layer(
        twin_of(case)[0], build(impl, case).values, case.inputs, case.upstream, training=case.mode == "train").output)
    with pytest.raises(ValueError, match="read-only"):
        first.grad_parameters["weight"][...] = 0.0


def test_other_inputs_or_other_stored_values_are_computed_afresh():
    case = draws(layer_cases(SPECS["Linear"]))[3]
    truths = Truths(2)
    first = truths(build(impl, case), case)
    other = case.mapped(lambda a: a + 1.0)
    assert not np.array_equal(truths(build(impl, other), other).output, first.output)
    stored = build(impl, case)
    stored.values = [v.astype(np.float32).astype(np.float64) for v in stored.values]  # a layer keeping float32
    assert truths(stored, case) is not first and len(truths.results) == 2  # the oldest went: two at most
    assert truths(build(impl, case), case) is not first
