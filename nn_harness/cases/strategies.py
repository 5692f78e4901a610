"""Every hypothesis strategy of the suite, in one place.

Shapes and hyper-parameters are drawn (and shrink to the smallest failing case); values come from a drawn seed
through NumPy, which keeps examples fast and reproducible. Value conditions that make a check meaningful
(away from a kink, a unique maximum per pooling window, large logits) are options of `arrays`.
"""

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st

Shape = tuple[int, ...]

# Values are kept at least this far from ReLU's kink, and distinct values at least this far apart:
# far larger than the finite-difference step (1e-6), so a central difference never straddles a kink or a tie.
KINK_MARGIN = 1e-3
IGNORED = -100  # a class target that masks its step out (torch's ignore_index default)


def seeds() -> st.SearchStrategy[int]:
    return st.integers(0, 2**32 - 1)


def values(seed: int, shape: Shape, *, scale: float = 1.0, away_from_zero: bool = False, distinct: bool = False,
           away_from: Sequence[float] = ()) -> np.ndarray:
    """Deterministic float64 values for `shape` from `seed`.

    away_from_zero: no value within KINK_MARGIN of 0.
    distinct: all values differ by at least KINK_MARGIN (a unique maximum in every pooling window).
    away_from: no value within KINK_MARGIN of these points (after scaling: where a definition switches branch).
    """
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if distinct:
        # A shuffled evenly spaced grid: distinct by construction, spread like a unit normal.
        step = max(KINK_MARGIN, 4.0 / max(size, 1))
        x = (rng.permutation(size) - (size - 1) / 2.0) * step
    else:
        x = rng.standard_normal(size)
    if away_from_zero:
        x = np.where(x >= 0, x + KINK_MARGIN, x - KINK_MARGIN)
    x = scale * x
    for point in away_from:
        x = np.where(np.abs(x - point) >= KINK_MARGIN, x, point + np.copysign(KINK_MARGIN, x - point))
    return x.reshape(shape)


@st.composite
def arrays(draw: st.DrawFn, shape: Shape, *, scales: Sequence[float] = (1.0,), away_from_zero: bool = False,
           distinct: bool = False, away_from: Sequence[float] = ()) -> np.ndarray:
    """A float64 array of `shape` (see `values`), its scale drawn from `scales`."""
    scale = draw(st.sampled_from(scales), label="scale")
    seed = draw(seeds(), label="values seed")
    return values(seed, shape, scale=scale, away_from_zero=away_from_zero, distinct=distinct, away_from=away_from)


def batch_sizes(max_size: int = 4) -> st.SearchStrategy[int]:
    return st.integers(1, max_size)


def pairs(low: int, high: int) -> st.SearchStrategy[tuple[int, int]]:
    """(h, w) pairs, square or rectangular."""
    return st.tuples(st.integers(low, high), st.integers(low, high))


@st.composite
def int_or_pair(draw: st.DrawFn, pair: tuple[int, int], *, label: str) -> int | tuple[int, int]:
    """The contract accepts an int or an (h, w) pair; draw the int spelling when the pair is square."""
    as_int = pair[0] == pair[1] and draw(st.booleans(), label=f"{label} given as int")
    return pair[0] if as_int else pair


@st.composite
def feature_shapes(draw: st.DrawFn, *, max_features: int = 6) -> Shape:
    """(N, C) with N possibly 1."""
    return (draw(batch_sizes(), label="batch"), draw(st.integers(1, max_features), label="features"))


@st.composite
def any_shapes(draw: st.DrawFn) -> Shape:
    """(N, ...) of rank 2 to 4, for elementwise layers."""
    rank = draw(st.integers(2, 4), label="rank")
    return (draw(batch_sizes(), label="batch"), *draw(st.lists(st.integers(1, 5), min_size=rank - 1, max_size=rank - 1)))


@st.composite
def linear_configs(draw: st.DrawFn) -> dict:
    return {
        "in_features": draw(st.integers(1, 8), label="in_features"),
        "out_features": draw(st.integers(1, 8), label="out_features"),
        "bias": draw(st.booleans(), label="bias"),
    }


@st.composite
def conv2d_configs(draw: st.DrawFn, *, square: bool = False) -> dict:
    """Dependent draws: kernel, then padding that fits it (torch's `tensor_conv` style).

    square: one stride and one padding for both axes (for styles that take a single number).
    """
    kernel = draw(pairs(1, 4), label="kernel")
    stride = draw(st.integers(1, 3).map(lambda v: (v, v)) if square else pairs(1, 3), label="stride")
    padding = draw(st.integers(0, min(kernel)).map(lambda v: (v, v)) if square else
                   st.tuples(st.integers(0, kernel[0]), st.integers(0, kernel[1])), label="padding")
    return {
        "in_channels": draw(st.integers(1, 3), label="in_channels"),
        "out_channels": draw(st.integers(1, 3), label="out_channels"),
        "kernel_size": draw(int_or_pair(kernel, label="kernel_size")),
        "stride": draw(int_or_pair(stride, label="stride")),
        "padding": draw(int_or_pair(padding, label="padding")),
        "bias": draw(st.booleans(), label="bias"),
    }


@st.composite
def maxpool2d_configs(draw: st.DrawFn, *, square_stride: bool = False, padding: bool = True) -> dict:
    """Stride may exceed the kernel; padding is at most half the kernel (torch's rule).

    square_stride: one stride for both axes; padding=False: none (for styles that cannot state them).
    """
    kernel = draw(pairs(1, 3), label="kernel")
    args = {"kernel_size": draw(int_or_pair(kernel, label="kernel_size"))}
    if padding:
        pad = draw(st.tuples(st.integers(0, kernel[0] // 2), st.integers(0, kernel[1] // 2)), label="padding")
        args["padding"] = draw(int_or_pair(pad, label="padding"))
    if draw(st.booleans(), label="explicit stride"):
        stride = draw(st.integers(1, 4).map(lambda v: (v, v)) if square_stride else pairs(1, 4), label="stride")
        args["stride"] = draw(int_or_pair(stride, label="stride"))
    elif square_stride and kernel[0] != kernel[1]:
        args["stride"] = kernel[0]  # the default stride is the kernel: make it one number
    return args


@st.composite
def avgpool2d_configs(draw: st.DrawFn) -> dict:
    """MaxPool2d's arguments (padding at most half the kernel, as torch requires) and whether padding counts in
    the divisor."""
    args = draw(maxpool2d_configs())
    if draw(st.booleans(), label="explicit count_include_pad"):
        args["count_include_pad"] = draw(st.booleans(), label="count_include_pad")
    return args


@st.composite
def batch_images(draw: st.DrawFn, channels: int) -> Shape:
    """(N, C, H, W) with more than one value per channel over N, H and W (torch's batch statistics need two)."""
    n, h, w = draw(st.tuples(batch_sizes(3), st.integers(1, 4), st.integers(1, 4)).filter(
        lambda nhw: nhw[0] * nhw[1] * nhw[2] >= 2), label="batch, height, width")
    return (n, channels, h, w)


@st.composite
def layer_norm_configs(draw: st.DrawFn) -> dict:
    """normalized_shape: the last one or two axes (an int for one, sometimes), sizes down to 1 (a group of one
    value: its variance is 0, the output its bias)."""
    dims = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2), label="normalized dims"))
    as_int = len(dims) == 1 and draw(st.booleans(), label="normalized_shape given as int")
    args = {"normalized_shape": dims[0] if as_int else dims}
    if draw(st.booleans(), label="explicit elementwise_affine"):
        args["elementwise_affine"] = draw(st.booleans(), label="elementwise_affine")
    if draw(st.booleans(), label="explicit eps"):
        args["eps"] = draw(st.sampled_from([1e-5, 1e-1]), label="eps")
    return args


@st.composite
def leading_shapes(draw: st.DrawFn, trailing: Shape, *, max_rank: int = 4) -> Shape:
    """(N, ...) + trailing, of rank 2 to max_rank: a batch axis, maybe more, then the given axes."""
    extra = draw(st.lists(st.integers(1, 4), max_size=max(0, max_rank - 1 - len(trailing))), label="extra axes")
    return (draw(batch_sizes(), label="batch"), *extra, *trailing)


@st.composite
def group_norm_configs(draw: st.DrawFn) -> dict:
    """num_groups dividing num_channels; groups of one channel and of all of them included."""
    groups = draw(st.integers(1, 3), label="num_groups")
    args = {"num_groups": groups, "num_channels": groups * draw(st.integers(1, 3), label="channels per group")}
    if draw(st.booleans(), label="explicit affine"):
        args["affine"] = draw(st.booleans(), label="affine")
    if draw(st.booleans(), label="explicit eps"):
        args["eps"] = draw(st.sampled_from([1e-5, 1e-1]), label="eps")
    return args


@st.composite
def indices(draw: st.DrawFn, shape: Shape, count: int) -> np.ndarray:
    """int64 indices in [0, count) of `shape`, drawn from a few distinct values (shrinking to one), so that most
    examples repeat an index: a gradient must add up over the repeats."""
    distinct = draw(st.integers(1, count), label="distinct indices")
    rng = np.random.default_rng(draw(seeds(), label="indices seed"))
    return rng.choice(rng.permutation(count)[:distinct], size=shape).astype(np.int64)


def recurrent_configs() -> st.SearchStrategy[dict]:
    """RNNCell, LSTMCell, RNN, LSTM: sizes down to 1, with and without biases."""
    return st.fixed_dictionaries({"input_size": st.integers(1, 4), "hidden_size": st.integers(1, 4)},
                                 optional={"bias": st.booleans()})


def sequence_lengths(max_length: int = 5) -> st.SearchStrategy[int]:
    """Steps of a sequence; one step (no gradient through time at all) is where shrinking ends."""
    return st.integers(1, max_length)


@st.composite
def recurrent_inputs(draw: st.DrawFn, args: dict, *, states: int, steps: st.SearchStrategy[int] | None = None,
                     scales: Sequence[float] = (1.0,)) -> tuple[np.ndarray, ...]:
    """(input, state...) of a recurrent layer: input (N, D) for a cell, (N, T, D) batch first when `steps` draws T;
    each initial state (N, H)."""
    n = draw(batch_sizes(), label="batch")
    time = () if steps is None else (draw(steps, label="sequence length"),)
    x = draw(arrays((n, *time, args["input_size"]), scales=scales), label="input")
    return (x, *(draw(arrays((n, args["hidden_size"])), label=f"initial state {k}") for k in range(states)))


def as_pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


@st.composite
def image_shapes(draw: st.DrawFn, channels: int, kernel: int | Sequence[int], padding: int | Sequence[int] = 0) -> Shape:
    """(N, C, H, W) large enough for at least one window; H == kernel - 2 * padding (one window) included."""
    (kh, kw), (ph, pw) = as_pair(kernel), as_pair(padding)
    h = draw(st.integers(max(1, kh - 2 * ph), kh + 5), label="height")
    w = draw(st.integers(max(1, kw - 2 * pw), kw + 5), label="width")
    return (draw(batch_sizes(3), label="batch"), channels, h, w)


@st.composite
def classification_inputs(draw: st.DrawFn, *, scales: Sequence[float] = (1.0,), log_probabilities: bool = False
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Scores (N, C) and integer targets (N,); log-probabilities (each row's exp sums to 1) when asked."""
    n, c = draw(feature_shapes(max_features=7))
    scores = draw(arrays((n, c), scales=scales), label="scores")
    if log_probabilities:
        shifted = scores - scores.max(axis=1, keepdims=True)
        scores = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return scores, _class_targets(draw, n, c)


def _class_targets(draw: st.DrawFn, n: int, classes: int) -> np.ndarray:
    """int64 class targets (n,) in [0, classes)."""
    labels = draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n), label="targets")
    return np.asarray(labels, dtype=np.int64)


# Scores within +-PROBABILITY_SPREAD / 2 before the softmax: every probability of 2 to 7 classes lies in
# [e^-4 / (6 + e^-4), 1 / (1 + e^-4)], about [3.0e-3, 0.982].
PROBABILITY_SPREAD = 4.0


@st.composite
def probability_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities (N, C) with at least two classes, each row the softmax of scores at most PROBABILITY_SPREAD
    apart, and integer targets (N,). Far from 0, where -log p and its derivative -1/p blow up (an NLL of probabilities
    is the numerically unstable form: practical_dl's ClassNLLCriterionUnstable), and from 1, where that course's
    template clips to 1 - 1e-15 and a finite difference would straddle the clip (one class is probability 1)."""
    n, c = draw(batch_sizes(), label="batch"), draw(st.integers(2, 7), label="classes")
    half = PROBABILITY_SPREAD / 2
    scores = np.clip(draw(arrays((n, c)), label="scores"), -half, half)
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True), _class_targets(draw, n, c)


@st.composite
def sequence_classification_inputs(draw: st.DrawFn, *, scales: Sequence[float] = (1.0,)
                                   ) -> tuple[np.ndarray, np.ndarray]:
    """Scores (N, T, C) and integer targets (N, T), some of them -100 (masked out), never all of them."""
    n, steps = draw(batch_sizes(), label="batch"), draw(sequence_lengths(), label="sequence length")
    classes = draw(st.integers(1, 6), label="classes")
    scores = draw(arrays((n, steps, classes), scales=scales), label="scores")
    rng = np.random.default_rng(draw(seeds(), label="targets seed"))
    targets = rng.integers(0, classes, (n, steps))
    masked = rng.random((n, steps)) < draw(st.sampled_from([0.0, 0.3, 0.7]), label="masked fraction")
    masked.flat[rng.integers(n * steps)] = False
    return scores, np.where(masked, IGNORED, targets).astype(np.int64)


@st.composite
def regression_inputs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and float targets of one shape."""
    shape = draw(any_shapes())
    return draw(arrays(shape), label="predictions"), draw(arrays(shape), label="targets")


@st.composite
def parameter_shapes(draw: st.DrawFn) -> list[Shape]:
    """Shapes of a small set of parameters for optimizer checks: a matrix and a vector."""
    rows, cols = draw(st.integers(1, 4), label="rows"), draw(st.integers(1, 4), label="cols")
    return [(rows, cols), (rows,)]


@st.composite
def sgd_configs(draw: st.DrawFn) -> dict:
    return {
        "lr": draw(st.sampled_from([0.01, 0.1, 0.5]), label="lr"),
        "momentum": draw(st.sampled_from([0.0, 0.9]), label="momentum"),
        "weight_decay": draw(st.sampled_from([0.0, 0.01]), label="weight_decay"),
    }


@st.composite
def adam_configs(draw: st.DrawFn) -> dict:
    return {
        "lr": draw(st.sampled_from([1e-3, 0.1]), label="lr"),
        "betas": draw(st.sampled_from([(0.9, 0.999), (0.5, 0.9)]), label="betas"),
        "eps": draw(st.sampled_from([1e-8, 1e-3]), label="eps"),
        "weight_decay": draw(st.sampled_from([0.0, 0.01]), label="weight_decay"),
    }
