"""ReLU.forward allocates ~6.4 GB (more than the default 4 GB limit, less than the machine)."""
import numpy as np
from _layers import Linear  # noqa: F401
from _layers import ReLU as _ReLU


class ReLU(_ReLU):
    def forward(self, input):
        scratch = np.ones(800_000_000)
        return super().forward(input) + scratch[:1] - 1.0
