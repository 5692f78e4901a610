"""Raises while being imported."""
from _layers import Linear, ReLU  # noqa: F401

raise RuntimeError("this submission breaks at import")
