"""The cached-input example with one bug: Softmax.backward(y) is not divided by N (grade with --api auto)."""

from .layers import *  # noqa: F403
