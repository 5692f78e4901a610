"""The module-grad example with one bug: the MSE gradient is not divided by the batch size (--api auto)."""

from .modules import *  # noqa: F403
