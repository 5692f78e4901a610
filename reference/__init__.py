"""The truth: PyTorch twins of the contract's layers, computed by autograd in float64.

`reference.nn` mirrors the names of the contract (`nn.Linear`, `nn.Softmax`, ...) with torch modules, so a
registry entry's `build(nn, args)` constructs the implementation's layer and its twin from one line.
`reference.twin` loads the implementation's parameter values into a twin and runs it forward and backward.
"""

from reference import nn
from reference.twin import TwinResult, criterion_reference, load_buffers, optimizer_reference, run_layer

__all__ = ["nn", "TwinResult", "run_layer", "load_buffers", "criterion_reference", "optimizer_reference"]
