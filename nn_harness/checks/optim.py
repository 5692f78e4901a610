"""Checks on an optimizer: several steps against torch.optim, fed the same gradient sequence."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

import reference
from nn_harness.cases import strategies as s
from nn_harness.cases.registry import OptimizerSpec
from nn_harness.checks.compare import CheckFailure, assert_close
from nn_harness.sandbox.client import beside
from nn_harness.sandbox.student import call, method


@dataclass(frozen=True)
class OptimizerCase:
    spec: OptimizerSpec
    args: dict
    shapes: list[tuple[int, ...]]
    seed: int

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{self.spec.name}(module, {args}) on parameters of shapes {self.shapes}"

    def initial(self) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, 0])
        return [rng.standard_normal(shape) for shape in self.shapes]

    def gradients(self) -> list[list[np.ndarray]]:
        """A random gradient for every parameter at every step."""
        rng = np.random.default_rng([self.seed, 1])
        return [[rng.standard_normal(shape) for shape in self.shapes] for _ in range(self.spec.steps)]


@st.composite
def optimizer_cases(draw: st.DrawFn, spec: OptimizerSpec) -> OptimizerCase:
    return OptimizerCase(spec, draw(spec.configs, label="arguments"), draw(s.parameter_shapes(), label="shapes"),
                         draw(s.seeds(), label="seed"))


def _optimizer(impl: Any, case: OptimizerCase) -> tuple[Any, Any]:
    """The implementation's optimizer over a ParameterHolder built beside it (in its sandbox, when it has one)."""
    holder = beside(impl, "helpers").ParameterHolder(case.initial())
    return call(f"constructing {case!r}", case.spec.make, impl, holder, case.args), holder


def steps_match_torch(impl: Any, case: OptimizerCase) -> None:
    optimizer, holder = _optimizer(impl, case)
    step = method(optimizer, "step", case.spec.name)
    expected = reference.optimizer_reference(lambda params, **kw: case.spec.make(reference.nn, params, kw),
                                             case.args, case.initial(), case.gradients())
    names = ["weight", "bias"]
    for k, (step_grads, after) in enumerate(zip(case.gradients(), expected), start=1):
        for grad, value in zip(holder.grads, step_grads):
            grad[...] = value
        call(f"{case.spec.name}.step() (step {k})", step)
        for name, got, want in zip(names, holder.params, after):
            assert_close(f"{name} after step {k} of {case.spec.steps}", got, want, case.spec.tolerance)


def zero_grad_zeroes_module_grads(impl: Any, case: OptimizerCase) -> None:
    optimizer, holder = _optimizer(impl, case)
    for grad, value in zip(holder.grads, case.gradients()[0]):
        grad[...] = value
    call(f"{case.spec.name}.zero_grad()", method(optimizer, "zero_grad", case.spec.name))
    if any(np.any(g != 0) for g in holder.grads):
        raise CheckFailure(f"{case.spec.name}.zero_grad() left the module's gradient buffers non-zero")
