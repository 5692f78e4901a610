"""The registry: every layer, criterion and optimizer of the contract, declared once.

How to add a layer:
  1. write it in `impl/` (and make sure `reference.nn` has its torch twin under the same name);
  2. add one `LayerSpec` below: how hypothesis draws its constructor arguments, which inputs it takes.
Every generic test (forward, backward, finite differences, contract) then runs on it; nothing else changes.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from hypothesis import strategies as st

from nn_harness.cases import strategies as s

Namespace = Any  # the implementation under test, or `reference.nn`: both spell the layer names the same way

# float64 everywhere; the two sides differ only by summation order.
@dataclass(frozen=True)
class Tolerance:
    """|got - expected| <= atol + rtol * |expected|, elementwise."""

    rtol: float
    atol: float

    def __str__(self) -> str:
        return f"|got - expected| <= {self.atol:.0e} + {self.rtol:.0e} * |expected|"


EXACT = Tolerance(rtol=1e-6, atol=1e-9)


def _by_name(name: str) -> Callable[[Namespace, dict], Any]:
    return lambda nn, args: getattr(nn, name)(**args)


@dataclass(frozen=True)
class LayerSpec:
    name: str  # the class name, the same in impl/ and in reference.nn (and so in torch.nn)
    configs: st.SearchStrategy[dict]  # constructor keyword arguments
    inputs: Callable[[dict], st.SearchStrategy[np.ndarray]]  # valid inputs for those arguments
    build: Callable[[Namespace, dict], Any] | None = None  # build from a namespace; default nn.<name>(**args)
    requires: tuple[str, ...] = ()  # every class `build` always uses; default (name,); a choice: `one_of`
    modes: tuple[str, ...] = ("train", "eval")  # modes in which the layer must equal its twin exactly
    # Modes in which the layer draws at random (Dropout's mask: torch cannot match it draw for draw). Only checks
    # that compare nothing with the twin's values run there too (cases.any_mode_cases).
    random_modes: tuple[str, ...] = ()
    buffers: Callable[[np.random.Generator, dict], dict[str, np.ndarray]] | None = None  # state torch keeps as buffers
    tolerance: Tolerance = EXACT  # implementation vs torch, float64
    kink_slopes: Callable[[dict], tuple[float, float]] | None = None  # at x == 0 any slope in between is valid
    # Inputs scaled by this reach values where the textbook formula overflows (exp of a large logit): the check
    # "stable for large inputs" compares there, the value checks stay on moderate draws, so an overflow is one
    # failure, not one per check.
    large_scale: float | None = None
    # A constructor argument naming one class of several: (argument, candidates); `bind` picks the class.
    one_of: tuple[str, tuple[str, ...]] | None = None
    # Inputs are integer indices (Embedding): there is no float32 input to preserve, so that check is not collected.
    # (The other checks see the integer dtype: they differentiate w.r.t. the parameters only and do not compare
    # what backward returns.)
    integer_inputs: bool = False
    # A layer with several inputs (a recurrent layer's initial state) or outputs (LSTMCell's h and c), by name, in
    # the order forward takes and returns them; `inputs` then draws a tuple. Axis 0 of every input is the batch.
    # forward(*inputs) returns the outputs (a tuple when several); backward(*inputs, *grad_outputs) one gradient per
    # input (a tuple when several).
    input_names: tuple[str, ...] = ("input",)
    output_names: tuple[str, ...] = ("output",)
    sequence: bool = False  # axis 1 of the input is time (batch first): hints know the sequence length
    # Known mistakes that equal this layer built with other arguments, for hints: hint -> those arguments (the same
    # parameter shapes); e.g. GroupNorm's channels grouped the other way round is GroupNorm with C / G groups.
    confusions: Callable[[dict], dict[str, dict]] | None = None
    # Inputs a course profile holds at zero and whose gradient its code does not compute (cs231n's lstm_forward
    # starts from c0 = 0): set by the profile's narrowing (nn_harness/cases/narrowing.py), never in this table.
    zero_inputs: tuple[str, ...] = ()
    # Inputs whose gradient the course's code does not compute by design (the "CNNs from scratch" tutorial's first
    # layer returns None for its input): not compared; set by the profile's narrowing, never in this table.
    omitted_gradients: tuple[str, ...] = ()

    @property
    def recurrent(self) -> bool:
        """A sequence layer that carries a state through time (its initial state an input): the sequence checks."""
        return self.sequence and len(self.input_names) > 1

    def graded_gradient(self, input_name: str) -> bool:
        """Whether what backward returns for this input is compared."""
        return input_name not in self.zero_inputs and input_name not in self.omitted_gradients

    def make(self, nn: Namespace, args: dict) -> Any:
        return (self.build or _by_name(self.name))(nn, args)

    @property
    def needs(self) -> tuple[str, ...]:
        return self.requires or (self.name,)

    def bind(self, nn: Namespace) -> "LayerSpec":
        """This spec for the namespace under test: its `one_of` argument, in every case drawn, is the first candidate
        `nn` defines, so the layer and its twin are built with the same class; that class is then required too.
        When `nn` defines none, all are required: the checks fail as not implemented, naming them."""
        if self.one_of is None:
            return self
        argument, candidates = self.one_of
        chosen = next((name for name in candidates if hasattr(nn, name)), None)
        if chosen is None:
            return replace(self, requires=(*self.needs, *candidates), one_of=None)
        return replace(self, configs=self.configs.map(lambda args: {**args, argument: chosen}),
                       requires=(*self.needs, chosen), one_of=None)


@dataclass(frozen=True)
class CriterionSpec:
    name: str  # the class name in impl/ and reference.nn
    inputs: st.SearchStrategy[tuple[np.ndarray, np.ndarray]]  # (input, target) pairs
    tolerance: Tolerance = EXACT

    def make(self, nn: Namespace) -> Any:
        return getattr(nn, self.name)()

    @property
    def needs(self) -> tuple[str, ...]:
        return (self.name,)


@dataclass(frozen=True)
class OptimizerSpec:
    name: str  # the class name in impl/ and reference.nn (torch.optim)
    configs: st.SearchStrategy[dict]  # constructor keyword arguments besides the module / parameters
    steps: int = 5  # steps compared against torch, on the same gradient sequence
    tolerance: Tolerance = EXACT

    def make(self, nn: Namespace, module_or_params: Any, args: dict) -> Any:
        return getattr(nn, self.name)(module_or_params, **args)

    @property
    def needs(self) -> tuple[str, ...]:
        return (self.name,)


def _elementwise(**conditions: Any) -> Callable[[dict], st.SearchStrategy[np.ndarray]]:
    return lambda args: s.any_shapes().flatmap(lambda shape: s.arrays(shape, **conditions))


def _features(args: dict) -> st.SearchStrategy[np.ndarray]:
    return s.batch_sizes().flatmap(lambda n: s.arrays((n, args["in_features"])))


def _steps(args: dict) -> st.SearchStrategy[np.ndarray]:
    """(N, T, in_features): a feature vector per time step."""
    return st.tuples(s.batch_sizes(), s.sequence_lengths()).flatmap(
        lambda nt: s.arrays((*nt, args["in_features"])))


def _images(*, distinct: bool = False) -> Callable[[dict], st.SearchStrategy[np.ndarray]]:
    def inputs(args: dict) -> st.SearchStrategy[np.ndarray]:
        shapes = s.image_shapes(args.get("in_channels", 2), args["kernel_size"], args.get("padding", 0))
        return shapes.flatmap(lambda shape: s.arrays(shape, distinct=distinct))
    return inputs


def _batchnorm_2d_inputs(args: dict) -> st.SearchStrategy[np.ndarray]:
    return s.batch_images(args["num_features"]).flatmap(s.arrays)


def _layer_norm_inputs(args: dict) -> st.SearchStrategy[np.ndarray]:
    normalized = args["normalized_shape"]
    trailing = (normalized,) if isinstance(normalized, int) else tuple(normalized)
    return s.leading_shapes(trailing).flatmap(s.arrays)


def _group_norm_inputs(args: dict) -> st.SearchStrategy[np.ndarray]:
    # (N, C) to (N, C, H, W): a group spans its channels and every axis after them. Torch refuses a batch whose
    # N (C / G) H W is 1 (it takes it for one value per group); one value per group in a larger batch is drawn.
    per_group = args["num_channels"] // args["num_groups"]
    shapes = st.tuples(s.batch_sizes(), st.lists(st.integers(1, 4), max_size=2)).filter(
        lambda pair: pair[0] * per_group * int(np.prod(pair[1])) >= 2)
    return shapes.map(lambda pair: (pair[0], args["num_channels"], *pair[1])).flatmap(s.arrays)


def _embedding_inputs(args: dict) -> st.SearchStrategy[np.ndarray]:
    shapes = st.one_of(st.tuples(s.batch_sizes()), st.tuples(s.batch_sizes(), st.integers(1, 5)))
    return shapes.flatmap(lambda shape: s.indices(shape, args["num_embeddings"]))


def _other_gelu(args: dict) -> dict[str, dict]:
    other = "tanh" if args.get("approximate", "none") == "none" else "none"
    form = {"none": "the exact x Phi(x)", "tanh": "the tanh approximation"}
    return {f"it is GELU(approximate={other!r}): {form[other]} where {form[args.get('approximate', 'none')]} is "
            "asked": {**args, "approximate": other}}


def _other_divisor(args: dict) -> dict[str, dict]:
    if s.as_pair(args.get("padding", 0)) == (0, 0):
        return {}  # no padding: both divisors are the kernel's size
    counted = args.get("count_include_pad", True)
    return {"the divisor " + ("leaves out" if counted else "counts") + " the padded positions; with count_include_pad="
            f"{counted} it is {'the kernel size' if counted else 'the number of input elements the window covers'}":
            {**args, "count_include_pad": not counted}}


def _groups_transposed(args: dict) -> dict[str, dict]:
    groups, channels = args["num_groups"], args["num_channels"]
    if groups * groups == channels:
        return {}  # G groups of G channels: the same grouping either way
    return {f"the channels were split into {channels // groups} groups of {groups} instead of {groups} groups of "
            f"{channels // groups}: reshape to (N, num_groups, C // num_groups, ...)":
            {**args, "num_groups": channels // groups}}


def _batchnorm_buffers(rng: np.random.Generator, args: dict) -> dict[str, np.ndarray]:
    c = args["num_features"]
    return {"running_mean": rng.standard_normal(c), "running_var": rng.uniform(0.5, 2.0, c)}


def _mlp(nn: Namespace, args: dict) -> Any:
    return nn.Sequential(nn.Linear(args["in_features"], args["hidden"]), getattr(nn, args["activation"])(),
                         nn.Linear(args["hidden"], args["out_features"]))


def _softplus_inputs(args: dict) -> st.SearchStrategy[np.ndarray]:
    # Spread around the point beta x == threshold where torch switches to the identity (scale `switch`: a threshold
    # compared with x, not beta x, shows), but never on it: the switch jumps by about exp(-threshold) / beta, which a
    # finite difference across it would see. (Overflow is LARGE's: "stable for large inputs".)
    switch = args.get("threshold", 20.0) / args.get("beta", 1.0)
    return _elementwise(scales=(1.0, 10.0, switch), away_from=(switch,))(args)


# Scales 1 and 10 (values up to a few tens: exp stays finite in float32 too); "stable for large inputs" multiplies
# them by LARGE (thousands: exp overflows, in float64 too, unless the implementation subtracts the maximum or
# switches formulas; even a shrunk case of scale 1 reaches there).
_scores = s.feature_shapes(max_features=7).flatmap(lambda shape: s.arrays(shape, scales=(1.0, 10.0)))
LARGE = 1000.0

LAYERS: list[LayerSpec] = [
    LayerSpec("Linear", s.linear_configs(), _features),
    LayerSpec("Conv2d", s.conv2d_configs(), _images()),
    LayerSpec("MaxPool2d", s.maxpool2d_configs(), _images(distinct=True)),
    LayerSpec("ReLU", st.just({}), _elementwise(away_from_zero=True), kink_slopes=lambda args: (0.0, 1.0)),
    LayerSpec("LeakyReLU", st.fixed_dictionaries({}, optional={"negative_slope": st.sampled_from([0.01, 0.2, 1.5])}),
              _elementwise(away_from_zero=True), kink_slopes=lambda args: (args.get("negative_slope", 0.01), 1.0)),
    # Up to 10, as Sigmoid and Tanh: an ELU that multiplies exp(x) by a mask (NaN from inf * 0 past x = 709) is not
    # failed on inputs no course feeds it.
    LayerSpec("ELU", st.fixed_dictionaries({}, optional={"alpha": st.sampled_from([0.5, 1.0, 2.0])}),
              _elementwise(scales=(1.0, 10.0), away_from_zero=True),
              kink_slopes=lambda args: (args.get("alpha", 1.0), 1.0)),
    LayerSpec("Sigmoid", st.just({}), _elementwise(scales=(1.0, 10.0))),
    LayerSpec("Tanh", st.just({}), _elementwise(scales=(1.0, 10.0))),
    LayerSpec("Softplus", st.fixed_dictionaries({}, optional={"beta": st.sampled_from([0.5, 1.0, 2.0]),
                                                               "threshold": st.sampled_from([20.0, 5.0])}),
              _softplus_inputs, large_scale=LARGE),
    # Torch cannot match Dropout's random mask draw for draw: exact in eval only; in training only the checks that
    # need no mask (inputs untouched, dtypes), and tests/test_dropout.py checks the masks statistically.
    LayerSpec("Dropout", st.fixed_dictionaries({"p": st.sampled_from([0.0, 0.3, 0.5, 0.9])}), _elementwise(),
              modes=("eval",), random_modes=("train",)),
    LayerSpec("Flatten", st.just({}), _elementwise()),
    LayerSpec("Softmax", st.just({}), lambda args: _scores, large_scale=LARGE),
    LayerSpec("LogSoftmax", st.just({}), lambda args: _scores, large_scale=LARGE),
    LayerSpec("BatchNorm1d", st.fixed_dictionaries({"num_features": st.integers(1, 6)},
                                                   optional={"eps": st.sampled_from([1e-5, 1e-1]),
                                                             "momentum": st.sampled_from([0.1, 0.5])}),
              # Batch statistics need two samples (torch refuses one in training mode).
              lambda args: st.integers(2, 5).flatmap(lambda n: s.arrays((n, args["num_features"]))),
              buffers=_batchnorm_buffers),
    # Scale 10 too: far into both tails, where Phi(x) is 1 to double precision or far below 1e-16 (1 + erf(x/sqrt(2))
    # cancels there, which is torch's own form: the tolerance's 1e-9 absolute covers it).
    LayerSpec("GELU", st.fixed_dictionaries({}, optional={"approximate": st.sampled_from(["none", "tanh"])}),
              _elementwise(scales=(1.0, 10.0)), confusions=_other_gelu),
    LayerSpec("AvgPool2d", s.avgpool2d_configs(), _images(), confusions=_other_divisor),
    LayerSpec("BatchNorm2d", st.fixed_dictionaries({"num_features": st.integers(1, 4)},
                                                   optional={"eps": st.sampled_from([1e-5, 1e-1]),
                                                             "momentum": st.sampled_from([0.1, 0.5]),
                                                             "affine": st.booleans()}),
              _batchnorm_2d_inputs, buffers=_batchnorm_buffers),
    LayerSpec("LayerNorm", s.layer_norm_configs(), _layer_norm_inputs),
    LayerSpec("GroupNorm", s.group_norm_configs(), _group_norm_inputs, confusions=_groups_transposed),
    LayerSpec("Embedding", st.fixed_dictionaries({"num_embeddings": st.integers(1, 6), "embedding_dim": st.integers(1, 4)}),
              _embedding_inputs, integer_inputs=True),
    # Recurrent layers: tanh, one layer, batch first; torch's parameters (weight_ih, weight_hh, bias_ih, bias_hh;
    # LSTM gates i, f, g, o). The sequence layers return every step's hidden state (N, T, H).
    LayerSpec("RNNCell", s.recurrent_configs(), lambda args: s.recurrent_inputs(args, states=1),
              input_names=("input", "hx")),
    LayerSpec("LSTMCell", s.recurrent_configs(), lambda args: s.recurrent_inputs(args, states=2),
              input_names=("input", "hx", "cx"), output_names=("h", "c")),
    LayerSpec("RNN", s.recurrent_configs(),
              lambda args: s.recurrent_inputs(args, states=1, steps=s.sequence_lengths()), input_names=("input", "h0"),
              sequence=True),
    LayerSpec("LSTM", s.recurrent_configs(),
              lambda args: s.recurrent_inputs(args, states=2, steps=s.sequence_lengths()),
              input_names=("input", "h0", "c0"), sequence=True),
    LayerSpec("TemporalLinear", s.linear_configs(), _steps, sequence=True),
    LayerSpec("Sequential", st.fixed_dictionaries({"in_features": st.integers(1, 5), "hidden": st.integers(1, 5),
                                                   "out_features": st.integers(1, 5)}),
              # The activation: the first of these the implementation defines (smooth ones first: no kink for a
              # finite difference to straddle), so a course without Tanh still has its Sequential graded.
              _features, build=_mlp, requires=("Sequential", "Linear"),
              one_of=("activation", ("Tanh", "Sigmoid", "ReLU", "LeakyReLU"))),
]

CRITERIA: list[CriterionSpec] = [
    CriterionSpec("MSELoss", s.regression_inputs()),
    CriterionSpec("NLLLoss", s.classification_inputs(log_probabilities=True)),
    # NLLLoss of probabilities (the log taken inside): practical_dl's ClassNLLCriterionUnstable, a name of our own.
    CriterionSpec("ProbabilityNLLLoss", s.probability_inputs()),
    CriterionSpec("CrossEntropyLoss", s.classification_inputs(scales=(1.0, 10.0, 100.0))),
    CriterionSpec("TemporalCrossEntropyLoss", s.sequence_classification_inputs(scales=(1.0, 10.0, 100.0))),
]

OPTIMIZERS: list[OptimizerSpec] = [
    OptimizerSpec("SGD", s.sgd_configs()),
    OptimizerSpec("Adam", s.adam_configs()),
]

SPECS: dict[str, LayerSpec | CriterionSpec | OptimizerSpec] = {spec.name: spec for spec in [*LAYERS, *CRITERIA, *OPTIMIZERS]}
