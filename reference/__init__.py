"""The truth: PyTorch twins of the contract's layers, computed by autograd in float64.

`reference.nn` mirrors the names of the contract (`nn.Linear`, `nn.Softmax`, ...) with torch modules, so a
registry entry's `build(nn, args)` constructs the implementation's layer and its twin from one line.
`reference.twin` loads the implementation's parameter values into a twin and runs it forward and backward.

Both are imported on first use: torch takes seconds to import, and a process that loads the harness without
running a check (the pytest-xdist controller, which only schedules and reports) must not wait for it.
"""

import importlib
from typing import Any

_FROM_TWIN = ("TwinResult", "run_layer", "load_buffers", "criterion_reference", "optimizer_reference")
__all__ = ["nn", *_FROM_TWIN]


def __getattr__(name: str) -> Any:
    if name in ("nn", "twin"):
        return importlib.import_module(f"reference.{name}")
    if name in _FROM_TWIN:
        return getattr(importlib.import_module("reference.twin"), name)
    raise AttributeError(f"module 'reference' has no attribute {name!r}")
