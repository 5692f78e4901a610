"""The CS231n example with one bug per layer function pair (grade with --api cs231n): affine_backward returns the first
sample's bias gradient; layernorm_forward normalises over the batch axis; spatial_batchnorm_* reshape to (N*H*W, C)
without the transpose; spatial_groupnorm_* group the channels as C // G groups of G; word_embedding_backward adds
with dW[x] += dout, which drops repeated words."""

from .layers import *  # noqa: F403
