"""sys.exit inside forward."""
import sys

from _layers import Linear as _Linear
from _layers import ReLU  # noqa: F401


class Linear(_Linear):
    def forward(self, input):
        sys.exit("bye")
