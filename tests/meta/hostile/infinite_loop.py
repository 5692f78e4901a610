"""Linear.forward never returns."""
from _layers import Linear as _Linear
from _layers import ReLU  # noqa: F401


class Linear(_Linear):
    def forward(self, input):
        while True:
            pass
