"""Normalisation layers: batch (1-D and 2-D), layer and group normalisation.

All of them standardise groups of values, x_hat = (x - mean) / sqrt(var + eps) with the biased variance, and then
scale and shift per feature; they differ in which axes a group spans. `standardize` and `standardize_backward` are
that shared step.
"""

from __future__ import annotations

import numpy as np

from .module import Module


def standardize(input: np.ndarray, axes: tuple[int, ...], eps: float) -> tuple[np.ndarray, np.ndarray]:
    """x_hat over `axes` (biased variance), and 1 / sqrt(var + eps) with those axes kept (size 1)."""
    mean = input.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(input.var(axis=axes, keepdims=True) + input.dtype.type(eps))
    return (input - mean) * inv_std, inv_std


def standardize_backward(g_hat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """dL/dx from dL/dx_hat when the mean and variance are the group's own: each depends on every value of the
    group, so g_hat loses its components along the mean and along x_hat."""
    return inv_std * (g_hat - g_hat.mean(axis=axes, keepdims=True) - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True))


def per_channel(values: np.ndarray, input: np.ndarray) -> np.ndarray:
    """Per-channel values (C,) shaped to broadcast against an (N, C, *) input, in its dtype."""
    return values.astype(input.dtype, copy=False).reshape(-1, *([1] * (input.ndim - 2)))


class _Affine(Module):
    """Optional learnable scale and shift of x_hat (torch's weight and bias, initialised to 1 and 0), per channel
    unless a subclass says otherwise (`_shaped`, `_parameter_axes`)."""

    def __init__(self, shape: tuple[int, ...], affine: bool) -> None:
        super().__init__()
        self.weight = np.ones(shape) if affine else None
        self.bias = np.zeros(shape) if affine else None
        if affine:
            self._register(self.weight, self.bias)

    def _shaped(self, values: np.ndarray, input: np.ndarray) -> np.ndarray:
        """A parameter shaped to broadcast against `input`, in its dtype."""
        return per_channel(values, input)

    def _parameter_axes(self, input: np.ndarray) -> tuple[int, ...]:
        """The axes a parameter does not span (its gradient sums over them)."""
        return (0, *range(2, input.ndim))

    def _scale(self, x_hat: np.ndarray, input: np.ndarray) -> np.ndarray:
        if self.weight is None:
            return x_hat
        return x_hat * self._shaped(self.weight, input) + self._shaped(self.bias, input)

    def _scale_backward(self, grad_output: np.ndarray, x_hat: np.ndarray, input: np.ndarray) -> np.ndarray:
        """Add the parameter gradients and return dL/dx_hat."""
        if self.weight is None:
            return grad_output
        axes = self._parameter_axes(input)
        self._grads[0] += (grad_output * x_hat).sum(axis=axes).reshape(self.weight.shape)
        self._grads[1] += grad_output.sum(axis=axes).reshape(self.bias.shape)
        return grad_output * self._shaped(self.weight, input)


class _BatchNorm(_Affine):
    """torch's batch normalisation over axis 1 (channels), with running statistics; subclasses fix the input rank."""

    ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True) -> None:
        super().__init__((num_features,), affine)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.running_mean = np.zeros(num_features)
        self.running_var = np.ones(num_features)

    def _axes(self, input: np.ndarray) -> tuple[int, ...]:
        """The axes a channel's statistics span: every axis but the channel axis 1, as its parameters."""
        return self._parameter_axes(input)

    def _check(self, input: np.ndarray) -> None:
        if input.ndim not in self.ranks:
            raise ValueError(f"{type(self).__name__} expects input of rank {' or '.join(map(str, self.ranks))},"
                             f" got shape {input.shape}")

    def _statistics(self, input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x_hat and 1 / sqrt(var + eps): the batch's (biased) statistics in training, the running ones in eval."""
        if self.training:
            axes = self._axes(input)
            return standardize(input, axes, self.eps)
        inv_std = 1 / np.sqrt(per_channel(self.running_var, input) + input.dtype.type(self.eps))
        return (input - per_channel(self.running_mean, input)) * inv_std, inv_std

    def _update_running_statistics(self, input: np.ndarray) -> None:
        """r = (1 - momentum) r + momentum * batch, with the unbiased batch variance, as torch."""
        n = input.size // self.num_features
        if n < 2:
            raise ValueError(f"{type(self).__name__} needs more than 1 value per channel when training")
        axes, m = self._axes(input), self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * input.mean(axis=axes)
        self.running_var *= 1 - m
        self.running_var += m * input.var(axis=axes) * (n / (n - 1))

    def forward(self, input: np.ndarray) -> np.ndarray:
        self._check(input)
        x_hat, _ = self._statistics(input)
        if self.training:
            self._update_running_statistics(input)
        return self._scale(x_hat, input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        x_hat, inv_std = self._statistics(input)
        g_hat = self._scale_backward(grad_output, x_hat, input)
        if not self.training:
            # Running statistics are constants, so normalisation is a per-channel affine map.
            return g_hat * inv_std
        return standardize_backward(g_hat, x_hat, inv_std, self._axes(input))


class BatchNorm1d(_BatchNorm):
    """torch.nn.BatchNorm1d on (N, C) or (N, C, L) input, with affine parameters and running statistics."""

    ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """torch.nn.BatchNorm2d on (N, C, H, W) input: statistics per channel over the batch and both spatial axes."""

    ranks = (4,)


class LayerNorm(_Affine):
    """torch.nn.LayerNorm: each sample standardised over its last len(normalized_shape) axes, then scaled and
    shifted elementwise (weight and bias of shape normalized_shape)."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        shape = tuple(int(d) for d in np.atleast_1d(normalized_shape))
        super().__init__(shape, elementwise_affine)
        self.normalized_shape = shape
        self.eps = eps

    def _axes(self, input: np.ndarray) -> tuple[int, ...]:
        return tuple(range(input.ndim - len(self.normalized_shape), input.ndim))

    def _shaped(self, values: np.ndarray, input: np.ndarray) -> np.ndarray:
        return values.astype(input.dtype, copy=False)  # spans the trailing axes: broadcasts as it is

    def _parameter_axes(self, input: np.ndarray) -> tuple[int, ...]:
        return tuple(range(input.ndim - len(self.normalized_shape)))

    def forward(self, input: np.ndarray) -> np.ndarray:
        x_hat, _ = standardize(input, self._axes(input), self.eps)
        return self._scale(x_hat, input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        axes = self._axes(input)
        x_hat, inv_std = standardize(input, axes, self.eps)
        return standardize_backward(self._scale_backward(grad_output, x_hat, input), x_hat, inv_std, axes)


class GroupNorm(_Affine):
    """torch.nn.GroupNorm on (N, C, *) input: the channels split into num_groups consecutive groups, each sample's
    group standardised over its channels and every further axis, then scaled and shifted per channel."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True) -> None:
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        super().__init__((num_channels,), affine)
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps

    def _grouped(self, array: np.ndarray) -> np.ndarray:
        """(N, C, *) as (N, G, C/G * prod(*)): a group's values along the last axis."""
        return array.reshape(array.shape[0], self.num_groups, -1)

    def _standardize(self, input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x_hat in the grouped layout, and 1 / sqrt(var + eps) per (sample, group)."""
        return standardize(self._grouped(input), (2,), self.eps)

    def forward(self, input: np.ndarray) -> np.ndarray:
        x_hat, _ = self._standardize(input)
        return self._scale(x_hat.reshape(input.shape), input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        x_hat, inv_std = self._standardize(input)
        g_hat = self._scale_backward(grad_output, x_hat.reshape(input.shape), input)
        return standardize_backward(self._grouped(g_hat), x_hat, inv_std, (2,)).reshape(input.shape)
