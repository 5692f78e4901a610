"""Checks on a criterion case: loss value and gradient against torch and against finite differences."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

import reference
from nn_harness.cases.registry import CriterionSpec, Tolerance
from nn_harness.cases.returned import strict_array, strict_float
from nn_harness.checks import finite_diff as fd
from nn_harness.checks.compare import CheckFailure, Recheck, assert_close, compare
from nn_harness.checks.layer import assert_float32
from nn_harness.sandbox.client import pipelined
from nn_harness.sandbox.student import call, method


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
    """The criterion, constructed with its first call (promise pipelining: one round trip for both)."""
    what = f"constructing {case.spec.name}()"
    with pipelined(impl, what):
        return call(what, case.spec.make, impl)


def _expected(case: CriterionCase) -> tuple[float, np.ndarray]:
    return reference.criterion_reference(case.spec.make(reference.nn), case.x, case.target)


def _larger(case: CriterionCase) -> CriterionCase:
    """The criterion on a fixed input of 3 samples of 5 values (the case's rank and kind of target; class scores:
    (3, 5) or, per time step, (3, 5, 4)): there the batch size, the number of elements and the number per sample
    differ from each other, from 1 and from 2."""
    rng = np.random.default_rng(0)
    if case.target.dtype.kind not in "iu":
        shape = (3, 5, *[1] * (case.x.ndim - 2)) if case.x.ndim >= 2 else (7,)
        return CriterionCase(case.spec, rng.standard_normal(shape), rng.standard_normal(shape))
    shape = (3, 5, 4)[: case.x.ndim]  # class scores on the last axis, a target for each of the others
    x = rng.standard_normal(shape)
    if np.allclose(np.exp(case.x).sum(axis=-1), 1):  # log-probabilities in, as the case has them
        x = x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
    elif np.all(case.x > 0) and np.allclose(case.x.sum(axis=-1), 1):  # probabilities in, as the case has them
        x = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    return CriterionCase(case.spec, x, rng.integers(0, shape[-1], shape[:-1]).astype(case.target.dtype))


def _on_larger_input(impl: Any, case: CriterionCase, quantity: str) -> Recheck:
    """The loss ("loss") or its gradient on `_larger(case)`: a hint factor that fits several names here fits one
    there."""
    def run() -> tuple[object, np.ndarray, dict[str, float]]:
        larger = _larger(case)
        loss, grad = _expected(larger)
        if quantity == "loss":
            return np.array(_loss(_make(impl, larger), larger, larger.x.copy())), np.array(loss), larger.factors
        return _grad(_make(impl, larger), larger, larger.x.copy()), grad, larger.factors

    return run


def loss_matches_torch(impl: Any, case: CriterionCase) -> None:
    loss = _loss(_make(impl, case), case, case.x.copy())
    assert_close("loss", np.array(loss), np.array(_expected(case)[0]), case.spec.tolerance, factors=case.factors,
                 recheck=_on_larger_input(impl, case, "loss"))


def loss_gradient_matches_torch(impl: Any, case: CriterionCase) -> None:
    grad = _grad(_make(impl, case), case, case.x.copy())
    assert_close("grad of input", grad, _expected(case)[1], case.spec.tolerance, factors=case.factors,
                 recheck=_on_larger_input(impl, case, "grad of input"))


def loss_gradient_matches_finite_differences(impl: Any, case: CriterionCase) -> None:
    criterion = _make(impl, case)
    x = case.x.copy()
    analytical = strict_array(_grad(criterion, case, x.copy()), what="grad of input", shape=x.shape, dtype=np.float64)
    name = case.spec.name
    numerical, modified = fd.numerical_jacobian(
        method(criterion, "forward", name), (x, case.target.copy()), x,
        result=lambda loss: np.array([strict_float(loss, what=f"{name}.forward (the loss)")]), what=f"{name}.forward")
    fd.assert_jacobians_close("grad of input", analytical.reshape(1, -1), numerical, (1,), x.shape, modified=modified)


def loss_inputs_not_modified(impl: Any, case: CriterionCase) -> None:
    criterion = _make(impl, case)
    x, target = case.x.copy(), case.target.copy()
    call(f"{case.spec.name}.forward", criterion.forward, x, target)
    call(f"{case.spec.name}.backward", criterion.backward, x, target)
    for what, array, original in (("input", x, case.x), ("target", target, case.target)):
        if not np.array_equal(array, original):
            raise CheckFailure(f"{case.spec.name} modified its {what} in place; work on a copy instead")


def float32_criterion_cases(spec: CriterionSpec) -> st.SearchStrategy[CriterionCase]:
    """loss_float32_preserved's cases: input (and a float target) in float32, so a failure shows the case that
    failed."""
    def float32(case: CriterionCase) -> CriterionCase:
        target = case.target.astype(np.float32) if case.target.dtype.kind == "f" else case.target
        return CriterionCase(case.spec, case.x.astype(np.float32), target)

    return criterion_cases(spec).map(float32)


def loss_float32_preserved(impl: Any, case: CriterionCase) -> None:
    """A float32 loss and gradient for float32 in (`float32_criterion_cases`), within float32's accuracy of the
    criterion's own float64 results for the same values (only float32 itself where those are unusable)."""
    criterion = _make(impl, case)
    wide = CriterionCase(case.spec, case.x.astype(np.float64),
                         case.target.astype(np.float64) if case.target.dtype.kind == "f" else case.target)
    own_loss = _loss(_make(impl, wide), wide, wide.x.copy())
    own_grad = _grad(_make(impl, wide), wide, wide.x.copy())
    loss = _loss(criterion, case, case.x.copy())
    if np.isfinite(own_loss):
        assert_close("float32 loss (against its own float64 loss)", np.array(loss), np.array(own_loss),
                     Tolerance(1e-3, 1e-4 * max(1.0, abs(own_loss))))
    scale = float(np.abs(own_grad).max(initial=0)) if _finite_array(own_grad) else 1.0
    assert_float32("float32 grad of input", _grad(criterion, case, case.x.copy()), own_grad, case.x.shape,
                   Tolerance(1e-3, 1e-4 * max(1.0, scale)))


def _finite_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and bool(np.all(np.isfinite(value)))


def stable_for_large_logits(impl: Any, case: CriterionCase) -> None:
    """Logits of +-1e4 must give a finite loss and gradient, equal to torch's (log-sum-exp, not exp then log). The
    loss and the gradient are each judged only where the criterion matches torch on the case itself: a wrong value
    is "loss (gradient) matches torch"'s to report, this check says whether right values stay right at scale."""
    expected = _expected(case)
    try:
        right = [compare("loss", np.array(_loss(_make(impl, case), case, case.x.copy())), np.array(expected[0]),
                         Tolerance(1e-6, 1e-6)).passed,
                 compare("grad of input", _grad(_make(impl, case), case, case.x.copy()), expected[1],
                         Tolerance(1e-6, 1e-9)).passed]
    except CheckFailure:  # the criterion fails on the case itself: theirs to report
        return
    big = CriterionCase(case.spec, case.x * 1e4, case.target)
    loss, grad = _expected(big)
    if right[0]:
        assert_close("loss for logits scaled to 1e4", np.array(_loss(_make(impl, big), big, big.x.copy())),
                     np.array(loss), Tolerance(1e-6, 1e-6))
    if right[1]:
        assert_close("grad of input for logits scaled to 1e4", _grad(_make(impl, big), big, big.x.copy()), grad,
                     Tolerance(1e-6, 1e-9))
