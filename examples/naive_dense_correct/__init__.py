"""Chollet's NaiveDense / NaiveSequential ported to NumPy (examples/README.md)."""

from .layers import NaiveDense, NaiveSequential, relu, softmax

__all__ = ["NaiveDense", "NaiveSequential", "relu", "softmax"]
