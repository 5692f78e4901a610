"""The base class every layer derives from, and the shared random generator."""

from __future__ import annotations

import numpy as np

# One generator for the whole package (initialisation and dropout masks); reassign it to reseed.
rng = np.random.default_rng()


def uniform_init(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    """torch's default Linear/Conv initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float64."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


class Module:
    """A layer with a forward pass, a backward pass and optional float64 parameters."""

    def __init__(self) -> None:
        self.training = True
        self._params: list[np.ndarray] = []
        self._grads: list[np.ndarray] = []

    def _register(self, *params: np.ndarray) -> None:
        """Add parameters (in torch's order) and a zeroed float64 gradient buffer for each."""
        for p in params:
            self._params.append(p)
            self._grads.append(np.zeros_like(p))

    def forward(self, input: np.ndarray) -> np.ndarray:
        """Compute the output for `input`."""
        raise NotImplementedError

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        """Return dL/d(input) and add dL/d(parameter) into the gradient buffers."""
        raise NotImplementedError

    def __call__(self, input: np.ndarray) -> np.ndarray:
        return self.forward(input)

    def parameters(self) -> list[np.ndarray]:
        """The live parameter arrays."""
        return list(self._params)

    def grad_parameters(self) -> list[np.ndarray]:
        """The gradient buffers, in the order of `parameters()`."""
        return list(self._grads)

    def zero_grad(self) -> None:
        """Reset every gradient buffer in place."""
        for g in self.grad_parameters():
            g.fill(0)

    def train(self, mode: bool = True) -> Module:
        """Switch to training mode (or evaluation mode when `mode` is False)."""
        self.training = mode
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode."""
        return self.train(False)
