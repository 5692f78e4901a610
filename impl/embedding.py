"""A lookup table of learnable vectors."""

from __future__ import annotations

import numpy as np

from . import module
from .module import Module


class Embedding(Module):
    """torch.nn.Embedding: integer indices of any shape (*) pick rows of the weight (num_embeddings, embedding_dim),
    giving (*, embedding_dim)."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.weight = module.rng.standard_normal((num_embeddings, embedding_dim))  # torch's N(0, 1)
        self._register(self.weight)

    def forward(self, input: np.ndarray) -> np.ndarray:
        return self.weight[input]

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> None:
        # A row picked several times gets the sum of their gradients: add.at accumulates repeated indices, where
        # `grad[input] += ...` would keep only one of them.
        np.add.at(self._grads[0], input.reshape(-1), grad_output.reshape(-1, self.embedding_dim))
        # Indices are discrete: there is no gradient with respect to them (torch gives them none either).
        return None
