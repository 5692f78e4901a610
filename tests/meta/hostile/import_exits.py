"""Kills the process while being imported."""
import os

from _layers import Linear, ReLU  # noqa: F401

os._exit(0)
