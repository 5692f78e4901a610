"""The strategies reach the cases that make checks meaningful (batch 1, kernel = input, stride > kernel, ...)
and keep the value conditions they promise."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nn_harness.cases import profiles
from nn_harness.cases import strategies as s
from nn_harness.cases.layer_case import layer_cases
from nn_harness.cases.registry import SPECS

DRAWS = profiles.examples_for("forward matches torch", "grading", None)  # what a graded value check draws


def draws(strategy):
    """Many examples of a strategy, drawn by hypothesis itself (st.data, so shrinking rules are the real ones)."""
    found = []

    @settings(max_examples=DRAWS, derandomize=True, database=None, deadline=None)
    @given(st.data())
    def collect(data):
        found.append(data.draw(strategy))

    collect()
    return found


def test_conv2d_cases_cover_the_edges():
    cases = draws(layer_cases(SPECS["Conv2d"]))
    kernels = [s.as_pair(c.args["kernel_size"]) for c in cases]
    strides = [s.as_pair(c.args["stride"]) for c in cases]
    paddings = [s.as_pair(c.args["padding"]) for c in cases]
    assert any(c.x.shape[0] == 1 for c in cases), "batch size 1"
    assert any(k[0] != k[1] for k in kernels), "rectangular kernels"
    assert any(st_[0] > k[0] for st_, k in zip(strides, kernels)), "stride larger than the kernel"
    assert any(p != (0, 0) for p in paddings), "padding"
    assert any(c.x.shape[2] == k[0] and p[0] == 0 for c, k, p in zip(cases, kernels, paddings)), "kernel = input size"


def test_maxpool_windows_have_a_unique_maximum_with_margin():
    for case in draws(layer_cases(SPECS["MaxPool2d"]))[:100]:
        values = np.sort(case.x.reshape(-1))
        assert np.all(np.diff(values) >= s.KINK_MARGIN * 0.999), case


def test_maxpool_cases_cover_stride_beyond_kernel_and_padding():
    cases = draws(layer_cases(SPECS["MaxPool2d"]))
    assert any("stride" in c.args and s.as_pair(c.args["stride"])[0] > s.as_pair(c.args["kernel_size"])[0]
               for c in cases)
    assert any(s.as_pair(c.args["padding"]) != (0, 0) for c in cases)


def test_relu_inputs_stay_away_from_the_kink():
    for case in draws(layer_cases(SPECS["ReLU"]))[:100]:
        assert np.abs(case.x).min() >= s.KINK_MARGIN, case


def test_softmax_value_checks_stay_moderate_and_its_stability_check_overflows_a_naive_form():
    spec = SPECS["Softmax"]
    largest = max(np.abs(c.x).max() for c in draws(layer_cases(spec)))
    assert 5 < largest < 88, "the value checks draw at scales 1 and 10: exp finite (float32 too), no overflow echoes"
    assert largest * spec.large_scale > 710, "stable for large inputs: exp of the logits overflows somewhere"


def test_elu_inputs_stay_away_from_the_kink_and_below_overflow():
    cases = draws(layer_cases(SPECS["ELU"]))
    assert all(np.abs(c.x).min() >= s.KINK_MARGIN for c in cases)
    assert 5 < max(np.abs(c.x).max() for c in cases) < 709, "large inputs, but none where exp(x) overflows"


def test_softplus_stability_check_overflows_a_naive_form_and_its_inputs_avoid_the_switch():
    spec = SPECS["Softplus"]
    cases = draws(layer_cases(spec))
    assert max((c.x * c.args.get("beta", 1.0)).max() for c in cases) < 710, "no overflow in the value checks"
    assert max((c.x * c.args.get("beta", 1.0)).max() for c in cases) * spec.large_scale > 710, \
        "stable for large inputs: exp(beta x) overflows somewhere"
    assert any(c.args.get("threshold", 20.0) != 20.0 for c in cases) and any(c.args.get("beta", 1.0) != 1.0 for c in cases)
    for case in cases:
        switch = case.args.get("threshold", 20.0) / case.args.get("beta", 1.0)  # beta x == threshold
        assert np.abs(case.x - switch).min() >= s.KINK_MARGIN * 0.999, case


def test_values_keep_away_from_given_points():
    x = s.values(0, (100_000,), scale=10.0, away_from=(2.5, -40.0))
    for point in (2.5, -40.0):
        assert np.abs(x - point).min() >= s.KINK_MARGIN * 0.999


def test_values_are_reproducible_from_their_seed():
    np.testing.assert_array_equal(s.values(7, (3, 4)), s.values(7, (3, 4)))


def test_embedding_indices_repeat_often_and_stay_in_range():
    cases = draws(layer_cases(SPECS["Embedding"]))
    assert all(c.x.dtype == np.int64 and 0 <= c.x.min() and c.x.max() < c.args["num_embeddings"] for c in cases)
    repeated = [c for c in cases if len(np.unique(c.x)) < c.x.size]
    assert len(repeated) >= len(cases) // 2, "a repeated index (the gradient must add up over it) in most examples"


def test_avgpool_cases_cover_padding_left_out_of_the_divisor():
    cases = draws(layer_cases(SPECS["AvgPool2d"]))
    assert any(c.args.get("count_include_pad") is False and s.as_pair(c.args["padding"]) != (0, 0) for c in cases)
    assert any(c.args.get("count_include_pad", True) and s.as_pair(c.args["padding"]) != (0, 0) for c in cases)


def test_normalization_cases_cover_their_layouts():
    layer_norm = draws(layer_cases(SPECS["LayerNorm"]))
    assert {np.ndim(c.args["normalized_shape"]) for c in layer_norm} == {0, 1}, "an int and a tuple"
    assert any(np.size(c.args["normalized_shape"]) == 2 for c in layer_norm), "over the last two axes"
    group_norm = draws(layer_cases(SPECS["GroupNorm"]))
    assert any(1 < c.args["num_groups"] < c.args["num_channels"] for c in group_norm), "groups of several channels"
    for case in draws(layer_cases(SPECS["BatchNorm2d"])):
        n, _, h, w = case.x.shape
        assert n * h * w >= 2, case  # torch needs two values per channel in training


def test_probability_inputs_are_probability_rows_far_from_0_and_1():
    pairs = draws(SPECS["ProbabilityNLLLoss"].inputs)
    for x, target in pairs:
        assert x.shape[1] >= 2 and np.allclose(x.sum(axis=1), 1), x
        assert x.min() >= 3e-3 and x.max() <= 0.982, x  # -log p well conditioned, the template's clip never acts
        assert target.dtype == np.int64 and target.shape == x.shape[:1] and 0 <= target.min() <= target.max() < x.shape[1]
    assert any(x.shape[0] == 1 for x, _ in pairs) and any(x.shape[1] == 2 for x, _ in pairs), "batch 1, two classes"
