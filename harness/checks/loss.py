"""Checks on a criterion case: loss value and gradient against torch and against finite differences."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

import reference
from harness import finite_diff as fd
from harness.compare import CheckFailure, Tolerance, assert_close, strict_array, strict_float
from harness.registry import CriterionSpec
from harness.sandbox.student import call, method


@dataclass(frozen=True)
class CriterionCase:
    spec: CriterionSpec
    x: np.ndarray
    target: np.ndarray

    def __repr__(self) -> str:
        return f"{self.spec.name}() on input {self.x.dtype} {self.x.shape}, target {self.target.dtype} {self.target.shape}"

    @property
    def factors(self) -> dict[str, float]:
        n = float(self.x.shape[0])
        return {"the batch size": n, "the number of elements": float(self.x.size),
                "the number of elements per sample (a mean over the batch instead of over all elements)":
                self.x.size / n}


def criterion_cases(spec: CriterionSpec) -> st.SearchStrategy[CriterionCase]:
    return spec.inputs.map(lambda pair: CriterionCase(spec, *pair))


def _loss(criterion: Any, case: CriterionCase, x: np.ndarray) -> float:
    name = case.spec.name
    return strict_float(call(f"{name}.forward", method(criterion, "forward", name), x, case.target.copy()),
                        what=f"{name}.forward (the loss)")


def _grad(criterion: Any, case: CriterionCase, x: np.ndarray) -> Any:
    name = case.spec.name
    return call(f"{name}.backward", method(criterion, "backward", name), x, case.target.copy())


def _make(impl: Any, case: CriterionCase) -> Any:
    return call(f"constructing {case.spec.name}()", case.spec.make, impl)


def _expected(case: CriterionCase) -> tuple[float, np.ndarray]:
    return reference.criterion_reference(case.spec.make(reference.nn), case.x, case.target)


def loss_matches_torch(impl: Any, case: CriterionCase) -> None:
    loss = _loss(_make(impl, case), case, case.x.copy())
    assert_close("loss", np.array(loss), np.array(_expected(case)[0]), case.spec.tolerance, factors=case.factors)


def loss_gradient_matches_torch(impl: Any, case: CriterionCase) -> None:
    grad = _grad(_make(impl, case), case, case.x.copy())
    assert_close("grad of input", grad, _expected(case)[1], case.spec.tolerance, factors=case.factors)


def loss_gradient_matches_finite_differences(impl: Any, case: CriterionCase) -> None:
    criterion = _make(impl, case)
    x = case.x.copy()
    analytical = strict_array(_grad(criterion, case, x.copy()), what="grad of input", shape=x.shape, dtype=np.float64)
    name = case.spec.name
    numerical = fd.numerical_jacobian(method(criterion, "forward", name), (x, case.target.copy()), x,
                                      result=lambda loss: np.array([strict_float(loss, what=f"{name}.forward (the loss)")]),
                                      what=f"{name}.forward")
    fd.assert_jacobians_close("grad of input", analytical.reshape(1, -1), numerical, (1,), x.shape)


def loss_inputs_not_modified(impl: Any, case: CriterionCase) -> None:
    criterion = _make(impl, case)
    x, target = case.x.copy(), case.target.copy()
    call(f"{case.spec.name}.forward", criterion.forward, x, target)
    call(f"{case.spec.name}.backward", criterion.backward, x, target)
    for what, array, original in (("input", x, case.x), ("target", target, case.target)):
        if not np.array_equal(array, original):
            raise CheckFailure(f"{case.spec.name} modified its {what} in place; work on a copy instead")


def loss_float32_preserved(impl: Any, case: CriterionCase) -> None:
    criterion = _make(impl, case)
    loss, grad = _expected(case)
    x = case.x.astype(np.float32)
    target = case.target.astype(np.float32) if case.target.dtype.kind == "f" else case.target
    case32 = CriterionCase(case.spec, x, target)
    tolerance = Tolerance(1e-3, 1e-4 * max(1.0, abs(loss)))
    assert_close("float32 loss", np.array(_loss(criterion, case32, x)), np.array(loss), tolerance)
    assert_close("float32 grad of input", _grad(criterion, case32, x), grad,
                 Tolerance(1e-3, 1e-4 * max(1.0, float(np.abs(grad).max(initial=0)))), dtype=np.float32)


def stable_for_large_logits(impl: Any, case: CriterionCase) -> None:
    """Logits of +-1e4 must give a finite loss and gradient, equal to torch's (log-sum-exp, not exp then log)."""
    big = CriterionCase(case.spec, case.x * 1e4, case.target)
    criterion = _make(impl, big)
    loss, grad = _expected(big)
    assert_close("loss for logits scaled to 1e4", np.array(_loss(criterion, big, big.x.copy())), np.array(loss),
                 Tolerance(1e-6, 1e-6))
    assert_close("grad of input for logits scaled to 1e4", _grad(criterion, big, big.x.copy()), grad,
                 Tolerance(1e-6, 1e-9))
