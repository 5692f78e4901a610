"""A spec bound to a namespace builds the layer and its twin from the classes that namespace defines."""

from types import SimpleNamespace

import impl
import reference
from nn_harness.cases.layer_case import layer_cases
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
