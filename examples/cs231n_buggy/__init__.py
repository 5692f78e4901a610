"""The CS231n example with ONE bug: affine_backward returns the first sample's bias gradient (grade with --api cs231n)."""

from .layers import *  # noqa: F403
