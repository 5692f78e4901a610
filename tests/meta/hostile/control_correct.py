"""Control: the correct base, unchanged. Must score full marks."""
from _layers import Linear, ReLU  # noqa: F401
