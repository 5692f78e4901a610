"""A course profile's narrowing of a registry spec: the cases the course can state and asks for (trusted side: it
draws hypothesis strategies; the profile data it reads is nn_harness/sandbox/adapters/profile.py's)."""

from typing import Any

import numpy as np
from hypothesis import strategies as st

from nn_harness.sandbox.adapters.profile import BACKWARD_CHECKS, Profile, resolve_argument


def _with_rank(x: np.ndarray, ranks: tuple[int, ...]) -> np.ndarray:
    """The same values with leading axes merged into the batch axis, when the course uses fewer axes than were drawn:
    the trailing axes are the ones a layer's arguments may size (LayerNorm's normalized_shape)."""
    top = max(ranks)
    return x.reshape(-1, *x.shape[x.ndim - top + 1:]) if x.ndim > top else x


def _within_spread(x: np.ndarray, limit: float) -> np.ndarray:
    """The same scores scaled down, when needed, so that no sample's (the classes: the last axis) are more than
    `limit` apart."""
    spread = float(np.ptp(x, axis=-1).max()) if x.ndim >= 2 and x.size else 0.0
    return x * (limit / spread) if spread > limit else x


def _cropped(x: np.ndarray, divisor: Any) -> np.ndarray:
    """An image batch cut to a height and width that are multiples of `divisor` (an int or a pair); the draws are
    at least one window large, so some of it is always left."""
    dh, dw = (divisor, divisor) if isinstance(divisor, int) else divisor
    return x[..., : x.shape[-2] - x.shape[-2] % dh, : x.shape[-1] - x.shape[-1] % dw]


def _within_bound(x: np.ndarray, bound: float) -> np.ndarray:
    """A float array scaled down, when it must be, so that no value exceeds `bound` in magnitude (the course's own
    tests draw no larger inputs); integer arrays (class targets, indices) as they are."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f" or not x.size:
        return x
    largest = float(np.abs(x).max())
    return x * (bound / largest) if largest > bound else x


def _bounded_inputs(x: Any, bound: float) -> Any:
    """A layer's input, or its tuple of inputs, within `bound`."""
    return tuple(_within_bound(a, bound) for a in x) if isinstance(x, tuple) else _within_bound(x, bound)


def narrowed(profile: Profile, spec: Any, check: str) -> dict[str, Any]:
    """The registry spec's fields replaced so the cases are the ones this course can state and asks for:
    constructor arguments ([narrow]), hyper-parameter ranges, input ranks, score spreads, the values' bound, inputs held at zero
    and gradients not computed by design ([rules]), training mode only for the checks that call backward when the
    course never differentiates in eval mode."""
    fields: dict[str, Any] = {}
    configs, inputs = getattr(spec, "configs", None), getattr(spec, "inputs", None)
    overrides = profile.narrow.get(spec.name)
    if overrides and configs is not None:
        choices = st.fixed_dictionaries({arg: st.sampled_from(values) for arg, values in overrides.items()})
        configs = st.tuples(configs, choices).map(
            lambda pair: {**pair[0], **{arg: resolve_argument({**pair[0], **pair[1]}, arg, v) for arg, v in pair[1].items()}})
        fields["configs"] = configs
    ranges = profile.rules.ranges.get(spec.name)
    if ranges and configs is not None:
        fields["configs"] = configs.filter(
            lambda args: all(lo <= args[arg] <= hi for arg, (lo, hi) in ranges.items() if arg in args))
    ranks = profile.rules.ranks.get(spec.name)
    if ranks and inputs is not None:
        fields["inputs"] = lambda args: inputs(args).map(lambda x: _with_rank(x, ranks)).filter(
            lambda x: x.ndim in ranks)
    spread = profile.rules.spreads.get(spec.name)
    if spread is not None and isinstance(inputs, st.SearchStrategy):  # a criterion's (scores, target) pairs
        fields["inputs"] = inputs.map(lambda pair: (_within_spread(pair[0], spread), *pair[1:]))
    divisor = profile.divisible.get(spec.name)
    if divisor is not None and inputs is not None:  # the template asserts height and width are multiples of it
        drawn = fields.get("inputs", inputs)
        fields["inputs"] = lambda args, drawn=drawn: drawn(args).map(lambda x: _cropped(x, args[divisor]))
    bound = profile.rules.value_bound
    if bound is not None:  # after the other narrowing of the inputs: every value drawn within the course's
        drawn = fields.get("inputs", inputs)
        if isinstance(drawn, st.SearchStrategy):  # a criterion's (scores, target) pairs
            fields["inputs"] = drawn.map(lambda pair: tuple(_within_bound(a, bound) for a in pair))
        elif drawn is not None:
            fields["inputs"] = lambda args, drawn=drawn: drawn(args).map(lambda x: _bounded_inputs(x, bound))
    zero_inputs = profile.rules.zero_inputs.get(spec.name)
    if zero_inputs:  # nn_harness/cases/layer_case.py draws them as zeros; their gradients are not compared
        fields["zero_inputs"] = tuple(zero_inputs)
    omitted = profile.rules.omitted_gradients.get(spec.name)
    if omitted:  # what backward returns for them is not compared (LayerSpec.graded_gradient)
        fields["omitted_gradients"] = tuple(omitted)
    modes = getattr(spec, "modes", ())
    if not profile.rules.backward_in_eval and check in BACKWARD_CHECKS and "train" in modes:
        fields["modes"] = ("train",)
    return fields
