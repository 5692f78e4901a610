"""Linear.forward raises."""
from _layers import Linear as _Linear
from _layers import ReLU  # noqa: F401


class Linear(_Linear):
    def forward(self, input):
        raise ValueError("not implemented yet")
