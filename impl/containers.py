"""Chaining modules."""

from __future__ import annotations

import numpy as np

from .module import Module


class Sequential(Module):
    """Apply `modules` in order; backward runs them in reverse with the inputs each saw."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        self.modules: list[Module] = list(modules)
        self._inputs: list[np.ndarray] = []

    def forward(self, input: np.ndarray) -> np.ndarray:
        self._inputs = []
        for child in self.modules:
            self._inputs.append(input)
            input = child.forward(input)
        return input

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        # The children's inputs come from the latest forward (of which `input` was the first).
        for child, child_input in zip(reversed(self.modules), reversed(self._inputs)):
            grad_output = child.backward(child_input, grad_output)
        return grad_output

    def parameters(self) -> list[np.ndarray]:
        return [p for child in self.modules for p in child.parameters()]

    def grad_parameters(self) -> list[np.ndarray]:
        return [g for child in self.modules for g in child.grad_parameters()]

    def train(self, mode: bool = True) -> Sequential:
        super().train(mode)
        for child in self.modules:
            child.train(mode)
        return self
