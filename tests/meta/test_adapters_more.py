"""The module-grad, cached-backward, update-only and forward-only (naive-dense) adapters: detection, exact
conversions, gradients recovered from updates, the tutorial's omitted input gradient not graded (any other None one
not implemented), forward-only layers graded on forward alone, and one run of the suite per example."""

import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nn_harness.cases import narrowing
from nn_harness.cases.layer_case import layer_cases
from nn_harness.cases.registry import SPECS
from nn_harness.checks import kinks as kink_checks
from nn_harness.checks import layer as checks
from nn_harness.checks import loss as loss_checks
from nn_harness.checks.compare import CheckFailure
from nn_harness.grading import points
from nn_harness.sandbox import adapters
from nn_harness.sandbox.adapters import cached_backward, update_only
from nn_harness.sandbox.helpers import ParameterHolder
from nn_harness.sandbox.loading import load_implementation
from tests.meta.test_imports import TENSORFLOW_ORIGINAL

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def example(name):
    return str(EXAMPLES / name)


def namespace(target, api):
    return adapters.adapt(load_implementation(target), api).module


@pytest.fixture(scope="module")
def mg():
    return namespace(example("module_grad_correct"), "module-grad")


@pytest.fixture(scope="module")
def cb():
    return namespace(example("cached_backward_correct"), "cached-backward")


@pytest.fixture(scope="module")
def uo():
    return namespace(example("update_only_correct"), "update-only")


# ------------------------------------------------------------------------------------------------- detection

DETECTED = {
    "module_grad_correct": "module-grad", "module_grad_buggy": "module-grad",
    "cached_backward_correct": "cached-backward", "cached_backward_buggy": "cached-backward",
    "update_only_correct": "update-only", "update_only_buggy": "update-only",
    "naive_dense_correct": "naive-dense", "naive_dense_buggy": "naive-dense",
    "torch7_correct": "practical_dl", "cs231n_correct": "cs231n", "native_buggy/layers.py": "native",
    "practical_dl_correct": "practical_dl", "practical_dl_snake_correct": "practical_dl_snake",
    "dict_grads_correct": "dict-grads", "layer_objects_correct": "layer-objects",
}


@pytest.mark.parametrize(("folder", "style"), DETECTED.items())
def test_auto_detection_of_every_example(folder, style):
    impl = load_implementation(example(folder))
    assert adapters.detect(impl.module)[0] == style
    assert adapters.describe(impl, "auto")[0].startswith(f"api: {style} (auto: ")


def test_native_impl_is_not_taken_by_a_new_style():
    assert adapters.detect(load_implementation("impl").module)[0] == "native"


@pytest.mark.parametrize("style", ["module-grad", "cached-backward", "update-only", "naive-dense"])
def test_header_declares_conventions(style):
    folder = {"module-grad": "module_grad_correct", "cached-backward": "cached_backward_correct",
              "update-only": "update_only_correct", "naive-dense": "naive_dense_correct"}[style]
    text = "\n".join(adapters.describe(load_implementation(example(folder)), style))
    assert text.startswith(f"api: {style} (requested)")
    for topic in adapters.profile_for(style).conventions:
        assert f"convention {topic}:" in text
    assert "not expressible: " in text


# ------------------------------------------------------------------------------------------------- module-grad


def test_module_grad_mse_is_converted_to_torch_mean(mg):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.mse_loss(xt, torch.tensor(y))
    loss.backward()
    criterion = mg.MSELoss()
    assert criterion.forward(x, y) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(criterion.backward(x, y), xt.grad.numpy(), rtol=1e-12)
    assert criterion.inner.forward(x, y) == pytest.approx(np.sum((x - y) ** 2) / 4)  # the course's own: sum / N


def test_module_grad_cross_entropy_on_probabilities_is_torchs_on_logits(mg):
    rng = np.random.default_rng(1)
    x, t = 3 * rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(xt, torch.tensor(t))
    loss.backward()
    criterion = mg.CrossEntropyLoss()
    assert criterion.forward(x, t) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(criterion.backward(x, t), xt.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_module_grad_clipped_probabilities_are_not_expressible(mg):
    x, t = np.array([[0.0, 100.0]]), np.array([0])  # p(target) = e^-100 < EPS = 1e-15
    with pytest.raises(adapters.NotExpressible, match="clipped to EPS = 1e-15.*not expressible in module-grad style"):
        mg.CrossEntropyLoss().forward(x, t)
    assert "NLLLoss" in mg.__profile__.unexpressible and not hasattr(mg, "NLLLoss")


def test_module_grad_linear_live_arrays_and_bias_false(mg):
    layer = mg.Linear(3, 2)
    w, b = layer.parameters()
    assert w is layer.inner.W and b is layer.inner.b and w.shape == (2, 3)
    no_bias = mg.Linear(3, 2, bias=False)
    assert len(no_bias.parameters()) == 1 and len(no_bias.grad_parameters()) == 1
    no_bias.inner.b[...] = 5.0
    x = np.ones((1, 3))
    np.testing.assert_allclose(no_bias.forward(x), x @ no_bias.inner.W.T)


# ---------------------------------------------------------------------------------------------- cached-backward


def test_cached_backward_linear_transposed_view_and_regulariser_removed(cb):
    layer = cb.Linear(3, 2)
    assert layer.inner.reg == cached_backward.REG
    weight, bias = layer.parameters()
    rng = np.random.default_rng(2)
    weight[...], bias[...] = rng.standard_normal((2, 3)), rng.standard_normal(2)
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    out = layer.forward(x)
    assert layer.inner.w.shape == (3, 2) and np.shares_memory(layer.inner.w, weight)
    np.testing.assert_allclose(out, x @ weight.T + bias, rtol=1e-12)
    held = layer.grad_parameters()
    layer.backward(x, g)
    layer.backward(x, g)  # ADDED into the buffers
    assert layer.grad_parameters()[0] is held[0]
    np.testing.assert_allclose(held[0], 2 * g.T @ x, rtol=1e-12, atol=1e-15)  # no trace of 2*reg*w
    np.testing.assert_allclose(held[1], 2 * g.sum(0), rtol=1e-12)


def test_cached_backward_forgotten_regulariser_fails_backward(tmp_path):
    source = (EXAMPLES / "cached_backward_correct" / "layers.py").read_text()
    assert "self.dW = self.x.T @ dout + 2 * self.reg * self.w" in source
    path = tmp_path / "no_l2.py"
    path.write_text(source.replace("self.dW = self.x.T @ dout + 2 * self.reg * self.w", "self.dW = self.x.T @ dout"))
    ns = namespace(str(path), "cached-backward")

    @settings(max_examples=10, database=None)
    @given(case=layer_cases(SPECS["Linear"]))
    def run(case):
        checks.backward_matches_torch(ns, case)

    with pytest.raises(CheckFailure, match="grad of weight differs"):
        run()


def test_cached_backward_sgd_is_update(cb):
    rng = np.random.default_rng(3)
    holder = ParameterHolder([rng.standard_normal((2, 3)), rng.standard_normal(2)])
    grads = [rng.standard_normal((2, 3)), rng.standard_normal(2)]
    for buffer, value in zip(holder.grads, grads):
        buffer[...] = value
    before = [p.copy() for p in holder.params]
    cb.SGD(holder, lr=0.5).step()
    for got, old, grad in zip(holder.params, before, grads):
        np.testing.assert_allclose(got, old - 0.5 * grad, rtol=1e-12)
    with pytest.raises(adapters.NotExpressible, match="momentum"):
        cb.SGD(holder, lr=0.1, momentum=0.9)


# ------------------------------------------------------------------------------------------------ update-only


def test_update_only_conv_gradient_recovered_from_update(uo):
    rng = np.random.default_rng(4)
    layer = uo.Conv2d(1, 3, 3, bias=False)
    (weight,) = layer.parameters()
    weight[...] = rng.uniform(-1, 1, weight.shape)
    kept = weight.copy()
    x, g = rng.standard_normal((2, 1, 6, 5)), rng.standard_normal((2, 3, 4, 3))
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(kept, requires_grad=True)
    out = torch.nn.functional.conv2d(xt, wt)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(layer.forward(x), out.detach().numpy(), rtol=1e-12, atol=1e-14)
    grad_input = layer.backward(x, g)
    np.testing.assert_allclose(grad_input, xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.grad_parameters()[0], wt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(weight, kept)  # the update was undone
    np.testing.assert_allclose(layer.forward(x), out.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_update_only_arguments_outside_the_style_are_not_expressible(uo):
    for args, kwargs in (((2, 3, 3), {"bias": False}), ((1, 3, 3), {}), ((1, 3, 2), {"bias": False}),
                         ((1, 3, 3), {"bias": False, "padding": 1})):
        with pytest.raises(adapters.NotExpressible, match="not expressible in update-only style"):
            uo.Conv2d(*args, **kwargs)
    with pytest.raises(adapters.NotExpressible, match="MaxPool2d"):
        uo.MaxPool2d(3)
    uo.MaxPool2d(2), uo.MaxPool2d((2, 2), stride=2)


# The tutorial's first layer as it is written: it updates its filters and returns None (no input gradient).
FIRST_LAYER = (
    "import numpy as np\n"
    "class Conv3x3:\n"
    "    def __init__(self, num_filters):\n"
    "        self.filters = np.random.randn(num_filters, 3, 3) / 9\n"
    "    def forward(self, input):\n"
    "        self.last_input = input\n"
    "        h, w = input.shape\n"
    "        out = np.zeros((h - 2, w - 2, len(self.filters)))\n"
    "        for i in range(h - 2):\n"
    "            for j in range(w - 2):\n"
    "                out[i, j] = np.sum(input[i:i + 3, j:j + 3] * self.filters, axis=(1, 2))\n"
    "        return out\n"
    "    def backprop(self, d_L_d_out, learn_rate):\n"
    "        grad = np.zeros(self.filters.shape)\n"
    "        h, w = self.last_input.shape\n"
    "        for i in range(h - 2):\n"
    "            for j in range(w - 2):\n"
    "                for f in range(len(self.filters)):\n"
    "                    grad[f] += d_L_d_out[i, j, f] * self.last_input[i:i + 3, j:j + 3]\n"
    "        self.filters -= learn_rate * grad\n"
    "        return None  # the tutorial's first layer\n")


def first_layer_spec():
    """The tutorial's Conv2d cases as the update-only profile narrows them: grad of input omitted."""
    fields = narrowing.narrowed(adapters.profile_for("update-only"), SPECS["Conv2d"], "backward matches torch")
    assert fields["omitted_gradients"] == ("input",)
    return dataclasses.replace(TUTORIAL["Conv2d"], omitted_gradients=fields["omitted_gradients"])


def uo_namespace_with_none_pool(tmp_path):
    """A MaxPool2d built from a MaxPool2 whose backprop returns None (no design reason: not implemented)."""
    path = tmp_path / "pool.py"
    path.write_text("import numpy as np\n"
                    "class MaxPool2:\n"
                    "    def forward(self, input):\n"
                    "        return input[::2, ::2]\n"
                    "    def backprop(self, d_L_d_out):\n"
                    "        return None\n")
    return namespace(str(path), "update-only").MaxPool2d(2)


def test_update_only_first_layer_returning_none_is_not_graded(tmp_path):
    """Conv3x3.backprop returns None by design (the tutorial's first layer): its grad of input is not graded (None,
    not compared, said in the header), its filter gradient is compared; another layer returning None is still
    'grad of input not implemented'."""
    path = tmp_path / "first_layer.py"
    path.write_text(FIRST_LAYER)
    ns = namespace(str(path), "auto")
    assert ns.__profile__.name == "update-only"
    assert not first_layer_spec().graded_gradient("input") and SPECS["Conv2d"].graded_gradient("input")
    layer = ns.Conv2d(1, 2, 3, bias=False)
    x = np.ones((1, 1, 4, 4))
    layer.forward(x)
    assert layer.backward(x, np.ones((1, 2, 2, 2))) is None
    np.testing.assert_allclose(layer.grad_parameters()[0], np.full((2, 1, 3, 3), 4.0))
    header = adapters.describe(load_implementation(str(path)), "update-only")
    assert "  not graded: Conv2d's grad of input (rules.omitted_gradients: the course's code does not compute it)" in header
    assert not hasattr(ns, "MaxPool2d") and "missing MaxPool2" in ns.__missing__["MaxPool2d"]
    pool = uo_namespace_with_none_pool(tmp_path)
    with pytest.raises(CheckFailure, match="MaxPool2.backprop returned None.*grad of input not implemented"):
        pool.backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 1, 1)))


@pytest.mark.parametrize("check", [checks.backward_matches_torch, checks.backward_matches_finite_differences,
                                   checks.gradients_accumulate, checks.float32_preserved, checks.no_stale_cache],
                         ids=lambda c: c.__name__)
def test_update_only_first_layer_graded_on_its_filter_gradient(tmp_path, check):
    """With grad of input not graded, the value and contract checks pass on the tutorial's first layer (here
    keeping the input's dtype, so that float32 preserved passes too)..."""
    path = tmp_path / "first_layer.py"
    path.write_text(FIRST_LAYER.replace("np.zeros((h - 2, w - 2, len(self.filters)))",
                                        "np.zeros((h - 2, w - 2, len(self.filters)), dtype=input.dtype)")
                    .replace("np.zeros(self.filters.shape)", "np.zeros(self.filters.shape, dtype=self.filters.dtype)"))
    ns = namespace(str(path), "update-only")

    @settings(max_examples=6, database=None)
    @given(case=layer_cases(first_layer_spec()))
    def run(case):
        check(ns, case)

    run()


def test_update_only_first_layer_wrong_filter_gradient_fails(tmp_path):
    """...and its filter gradient is compared: a sign-flipped update fails backward against torch on grad of
    weight, though the layer returns no input gradient."""
    path = tmp_path / "flipped.py"
    path.write_text(FIRST_LAYER.replace("self.filters -= learn_rate * grad", "self.filters += learn_rate * grad"))
    ns = namespace(str(path), "update-only")

    @settings(max_examples=10, database=None)
    @given(case=layer_cases(first_layer_spec()))
    def run(case):
        checks.backward_matches_torch(ns, case)

    with pytest.raises(CheckFailure, match=r"grad of weight differs(.|\n)*-1 \(the sign is flipped\)"):
        run()


def test_update_only_softmax_passes_the_upstream_gradient_as_it_is(uo):
    rng = np.random.default_rng(5)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    xt = torch.tensor(x, requires_grad=True)
    out = torch.softmax(xt, dim=1)
    out.backward(torch.tensor(g))
    layer = uo.Softmax()
    np.testing.assert_allclose(layer.forward(x), out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.backward(x, g), xt.grad.numpy(), rtol=1e-9, atol=1e-15)


# The tutorial's Softmax.backprop as it is written: it handles the one non-zero entry cross-entropy gives, and
# returns inside its loop after the first.
ONE_ENTRY_BACKPROP = """
    def backprop(self, d_L_d_out, learn_rate):
        for i, gradient in enumerate(d_L_d_out):
            if gradient == 0:
                continue
            t_exp = np.exp(self.last_totals)
            S = np.sum(t_exp)
            d_out_d_t = -t_exp[i] * t_exp / (S ** 2)
            d_out_d_t[i] = t_exp[i] * (S - t_exp[i]) / (S ** 2)
            d_L_d_t = gradient * d_out_d_t
            d_L_d_inputs = self.weights @ d_L_d_t
            self.weights -= learn_rate * np.outer(self.last_input, d_L_d_t)
            self.biases -= learn_rate * d_L_d_t
            return d_L_d_inputs.reshape(self.last_input_shape)
"""


def test_update_only_one_entry_softmax_backprop_is_not_hidden(tmp_path):
    """The adapter hands a general upstream gradient to backprop as it is: a backprop that handles only one
    non-zero entry fails Softmax's backward check (the first entry's part alone), while CrossEntropyLoss, whose
    upstream gradient has one non-zero entry, still passes."""
    source = (EXAMPLES / "update_only_correct" / "softmax.py").read_text()
    path = tmp_path / "one_entry.py"
    path.write_text(source[:source.index("    def backprop(")] + ONE_ENTRY_BACKPROP)
    ns = namespace(str(path), "update-only")

    @settings(max_examples=10, database=None)
    @given(case=layer_cases(SPECS["Softmax"]))
    def softmax(case):
        checks.backward_matches_torch(ns, case)

    with pytest.raises(CheckFailure, match="grad of input differs"):
        softmax()

    @settings(max_examples=10, database=None)
    @given(case=loss_checks.criterion_cases(SPECS["CrossEntropyLoss"]))
    def cross_entropy(case):
        loss_checks.loss_gradient_matches_torch(ns, case)

    cross_entropy()


def test_update_only_cross_entropy_underflow_is_not_expressible(uo):
    with pytest.raises(adapters.NotExpressible, match="underflows to 0"):
        uo.CrossEntropyLoss().forward(np.array([[0.0, 1e4]]), np.array([0]))


@st.composite
def tutorial_conv_configs(draw):
    return {"in_channels": 1, "out_channels": draw(st.integers(1, 3)), "kernel_size": draw(st.sampled_from([3, (3, 3)])),
            "bias": False}


TUTORIAL = {
    "Conv2d": dataclasses.replace(SPECS["Conv2d"], configs=tutorial_conv_configs()),
    "MaxPool2d": dataclasses.replace(SPECS["MaxPool2d"], configs=st.sampled_from([{"kernel_size": 2},
                                                                                  {"kernel_size": 2, "stride": 2}])),
}
LAYER_CHECKS = [checks.forward_matches_torch, checks.backward_matches_torch, checks.backward_matches_finite_differences,
                checks.gradients_accumulate, checks.zero_grad_zeroes_buffers, checks.inputs_not_modified,
                checks.float32_preserved, checks.no_stale_cache]


@pytest.mark.parametrize("layer", TUTORIAL)
@pytest.mark.parametrize("check", LAYER_CHECKS, ids=lambda c: c.__name__)
def test_update_only_example_passes_where_expressible(uo, layer, check):
    @settings(max_examples=6, database=None)
    @given(case=layer_cases(TUTORIAL[layer]))
    def run(case):
        check(uo, case)

    run()


def test_update_only_example_pooling_ties(uo):
    @settings(max_examples=6, database=None)
    @given(case=kink_checks.tie_cases(TUTORIAL["MaxPool2d"]))
    def run(case):
        kink_checks.maxpool_ties_conserve_gradient(uo, case)

    run()


def test_update_only_conv_sign_flipped_update_is_named(tmp_path):
    source = (EXAMPLES / "update_only_correct" / "conv.py").read_text()
    assert "self.filters -= learn_rate * d_L_d_filters" in source
    path = tmp_path / "flipped.py"
    path.write_text(source.replace("self.filters -= learn_rate * d_L_d_filters",
                                   "self.filters += learn_rate * d_L_d_filters"))
    ns = namespace(str(path), "update-only")

    @settings(max_examples=10, database=None)
    @given(case=layer_cases(TUTORIAL["Conv2d"]))
    def run(case):
        checks.backward_matches_torch(ns, case)

    with pytest.raises(CheckFailure, match=r"grad of weight differs(.|\n)*-1 \(the sign is flipped\)"):
        run()


def test_float_step_keeps_recovery_exact():
    assert update_only.LEARN_RATE == 2.0 ** round(np.log2(update_only.LEARN_RATE))
    assert (2 * cached_backward.REG) == 2.0 ** round(np.log2(2 * cached_backward.REG))


# ------------------------------------------------------------------------------------- naive-dense (forward only)


@pytest.fixture(scope="module")
def nd():
    return namespace(example("naive_dense_correct"), "naive-dense")


def test_naive_dense_forward_matches_torch(nd):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3))
    dense, no_bias = nd.Linear(3, 2), nd.Linear(3, 2, bias=False)
    assert [p.shape for p in dense.parameters()] == [(2, 3), (2,)] and [p.shape for p in no_bias.parameters()] == [(2, 3)]
    for layer in (dense, no_bias):
        for array in layer.parameters():
            array[...] = rng.standard_normal(array.shape)  # written in place, as the checks do
    np.testing.assert_allclose(dense.forward(x), x @ dense.weight.T + dense.bias, rtol=1e-12)
    np.testing.assert_allclose(no_bias.forward(x), x @ no_bias.weight.T, rtol=1e-12)
    np.testing.assert_array_equal(nd.ReLU().forward(x), np.maximum(x, 0))
    np.testing.assert_allclose(nd.Softmax().forward(x), torch.softmax(torch.tensor(x), dim=1).numpy(), rtol=1e-12)
    model = nd.Sequential(dense, nd.ReLU(), nd.Linear(2, 5))
    assert len(model.parameters()) == 4 and model.parameters()[0] is dense.weight
    np.testing.assert_allclose(model.forward(x), model.layers[2].forward(np.maximum(dense.forward(x), 0)), rtol=1e-12)


def test_naive_dense_grades_forward_only(nd):
    """rules.backward = false: every check but forward matches torch is not graded, with the reason and its
    evidence, end to end too; a backward asked of a layer is not expressible."""
    profile = nd.__profile__
    assert points.not_graded(profile, "Linear", "forward matches torch") is None
    assert points.not_graded(profile, "Sequential", "forward matches torch") is None
    for layer, check in (("Linear", "backward matches torch"), ("Linear", "float32 preserved"),
                         ("Softmax", "no stale cache"), ("Sequential", "batch size changes between passes"),
                         ("MLP end to end", "overfits 32 samples")):
        why = points.not_graded(profile, layer, check)
        assert "forward only (rules.backward = false)" in why and "tf.GradientTape" in why, (layer, check)
    assert "tf.keras.losses" in points.not_graded(profile, "CrossEntropyLoss", "loss matches torch")
    layer, x = nd.Linear(3, 2), np.ones((1, 3))
    with pytest.raises(adapters.NotExpressible, match="NaiveDense's backward.*not expressible in naive-dense style"):
        layer.backward(x, layer.forward(x))


def test_naive_dense_weights_that_are_copies_or_misordered_are_named(tmp_path, nd):
    source = (EXAMPLES / "naive_dense_correct" / "layers.py").read_text()
    copies = tmp_path / "copies.py"
    copies.write_text(source.replace("return [self.W, self.b]", "return [self.W.copy(), self.b.copy()]"))
    with pytest.raises(CheckFailure, match="NaiveDense.weights returned an array that is none of its attributes"):
        namespace(str(copies), "naive-dense").Linear(3, 2)
    reversed_ = tmp_path / "reversed_order.py"
    reversed_.write_text(source.replace("for layer in self.layers:\n            found += layer.weights",
                                        "for layer in reversed(self.layers):\n            found += layer.weights"))
    ns = namespace(str(reversed_), "naive-dense")
    model = ns.Sequential(ns.Linear(3, 2), ns.ReLU(), ns.Linear(2, 1))
    with pytest.raises(CheckFailure, match="NaiveSequential.weights returned .*expected the weights of its layers in order"):
        model.parameters()


def test_naive_dense_without_relu_has_it_not_graded_and_stood_in(tmp_path):
    """A port that passes its activation inline defines no relu: ReLU is not graded (not in its template) and
    NumPy's maximum stands in for it, so the Sequential check still has its activation."""
    source = (EXAMPLES / "naive_dense_correct" / "layers.py").read_text()
    path = tmp_path / "inline.py"
    path.write_text(source.replace("def relu(x):", "def rectify(x):"))
    impl = load_implementation(str(path))
    assert adapters.detect(impl.module)[0] == "naive-dense"
    header = adapters.describe(impl, "auto")
    assert "  not graded (not in its template): ReLU: the book passes tf.nn.relu" in "\n".join(header)
    assert any(line.startswith("  course-supplied code added: ReLU: the submission has no relu (not in its template)")
               for line in header)
    profile = adapters.profile_for("naive-dense").without(adapters.absent_of(impl, adapters.profile_for("naive-dense")))
    assert "not in the submission's template" in points.not_graded(profile, "ReLU", "forward matches torch")
    ns = namespace(str(path), "auto")
    np.testing.assert_array_equal(ns.Sequential(ns.Linear(2, 2), ns.ReLU()).forward(-np.ones((1, 2))) >= 0, True)


# ----------------------------------------------------------------------------- the suite on each example

# example folder: (layers selected, {buggy layer: a phrase its failures show}); every other layer passes
# every check except the cases its style cannot express
RUNS = {
    "module_grad_correct": (["Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "Softmax", "Sequential",
                             "MSELoss", "CrossEntropyLoss"], {}),
    "module_grad_buggy": (["Linear", "Softmax", "Sequential", "MSELoss", "CrossEntropyLoss"],
                          {"MSELoss": "off by the same factor 2 = the batch size"}),
    "cached_backward_correct": (["Linear", "ReLU", "Sigmoid", "CrossEntropyLoss"], {}),
    "cached_backward_buggy": (["Linear", "ReLU", "CrossEntropyLoss"],
                              {"CrossEntropyLoss": "= the batch size"}),
    "update_only_correct": (["Softmax", "CrossEntropyLoss", "Conv2d", "MaxPool2d"], {}),
    "update_only_buggy": (["Softmax", "CrossEntropyLoss"],
                          # CrossEntropyLoss reuses that Softmax, but only its 1e4 stability check (not expressible in
                          # this style, so not graded) reaches the overflow: the bug fails its own layer only
                          {"Softmax": "an overflow (exp of a large number?)"}),
    "naive_dense_correct": (["Linear", "ReLU", "Softmax", "Sequential"], {}),
    "naive_dense_buggy": (["Linear", "ReLU", "Softmax", "Sequential"], {"Softmax": "output differs"}),
}
# Folders whose bug only large inputs reach ("stable for large inputs": values drawn up to 10, x100 there): graded
# with the grading profile, whose 25 examples per check reach them; dev's few need not.
PROFILE_OF = {"update_only_buggy": "grading"}
STYLE_OF = {"module_grad": "module-grad", "cached_backward": "cached-backward", "update_only": "update-only",
            "naive_dense": "naive-dense"}


def run_suite(folder, layers, tmp_path):
    xml = tmp_path / "report.xml"
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"),
               "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-n", "2",  # no -q: the header
               "--profile", PROFILE_OF.get(folder, "dev"), "--impl", example(folder), "--api", "auto",
               "-m", " or ".join(layers), f"--junitxml={xml}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    cases = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        failure = case.find("failure")
        text = None if failure is None else failure.get("message", "") + (failure.text or "")
        cases.append((props.get("layer"), props.get("check"), text))
    return result, cases


@pytest.mark.slow
@pytest.mark.parametrize("folder", RUNS)
def test_example_suite(folder, tmp_path):
    layers, bugs = RUNS[folder]
    style = STYLE_OF[folder.rsplit("_", 1)[0]]
    result, cases = run_suite(folder, layers, tmp_path)
    assert {layer for layer, _, _ in cases} == set(layers)
    assert f"api: {style} (auto: " in result.stdout
    for layer in layers:
        failures = [(name, text) for lay, name, text in cases if lay == layer and text is not None]
        if layer in bugs:
            assert failures, f"{layer}: the bug went unnoticed"
            assert any(bugs[layer] in text for _, text in failures), failures[0][1][:2000]
        else:  # a correct layer passes every check its profile grades (the others are skipped as not graded, or
            # run for 0 points when beyond the course: the course's code need not pass those)
            course = adapters.profile_for(style)
            graded = [(check, text) for check, text in failures if not points.beyond(course, layer, check, "expressible")]
            assert not graded, (layer, graded[0][0], graded[0][1][:2000])
    assert "verdict per layer" in result.stdout


@pytest.mark.slow
def test_the_tensorflow_original_is_refused_in_one_line(tmp_path):
    """Chollet's NaiveDense as the book writes it (tf.Variable, tf.matmul): one line naming the framework, in the
    header and the verdict, and no failure block per check."""
    path = tmp_path / "naive.py"
    path.write_text(TENSORFLOW_ORIGINAL)
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"),
               "--rootdir", str(ROOT), "-p", "no:cacheprovider", "-n", "2", "--profile", "dev", "--impl", str(path),
               "--api", "auto", "-m", "Linear or Sequential or Submission"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    refusal = ("uses TensorFlow (in NaiveDense; none of its code uses NumPy): this harness grades NumPy implementations; "
               "port the layers to NumPy")
    assert result.returncode == 1, result.stdout[-3000:]
    assert f"(IMPORT FAILED: {refusal})" in result.stdout
    assert result.stdout.count(refusal) == 2, result.stdout[-3000:]  # the header and the verdict
    assert "= FAILURES =" not in result.stdout and " not imported in " in result.stdout.splitlines()[-1]
