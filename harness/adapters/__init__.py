"""`--api STYLE`: grade code written for a course's conventions without rewriting it (docs/adapters.md).

ADAPTERS maps a style name to its adapter; `detect(module)` picks one for `--api auto`; `adapt(impl, api)`
returns the Implementation whose module is the adapter's namespace, and a line for the report header.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType

from harness.adapters.base import Adapter, Layer, Namespace, NotExpressible
from harness.adapters.cached_backward import CachedBackward
from harness.adapters.cs231n import CS231n
from harness.adapters.module_grad import ModuleGrad
from harness.adapters.native import Native
from harness.adapters.torch7 import Torch7
from harness.adapters.update_only import UpdateOnly
from harness.loading import Implementation

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (
    Native(), Torch7(), CS231n(), ModuleGrad(), CachedBackward(), UpdateOnly())}
# Most specific first (update-only: backprop methods; cached-backward: backward(dout) + update / NLLloss;
# module-grad: grad_parameters() with MSE / CrossEntropy / SoftMax); native last: it is the fallback.
DETECTION_ORDER = ("torch7", "cs231n", "update-only", "cached-backward", "module-grad", "native")
CHOICES = (*ADAPTERS, "auto")

__all__ = ["ADAPTERS", "CHOICES", "Adapter", "Layer", "Namespace", "NotExpressible", "adapt", "describe", "detect"]


def detect(module: ModuleType) -> str:
    """The style the module is written in: the first adapter in DETECTION_ORDER that recognises it."""
    return next(name for name in DETECTION_ORDER if ADAPTERS[name].detects(module))


def resolve(impl: Implementation, api: str) -> tuple[str, str]:
    """(style name, how it was chosen) for the requested api."""
    if api not in CHOICES:
        raise ValueError(f"unknown api {api!r} (one of {', '.join(CHOICES)})")
    if api != "auto":
        return api, "requested"
    if impl.module is None:
        return "native", "auto: implementation not imported"
    name = detect(impl.module)
    return name, f"auto-detected: {ADAPTERS[name].signature}"


def adapt(impl: Implementation, api: str) -> Implementation:
    """The implementation whose module is the chosen adapter's namespace (unchanged for native or a failed import)."""
    name, _ = resolve(impl, api)
    if impl.module is None or name == "native":
        return impl
    return dataclasses.replace(impl, module=ADAPTERS[name].namespace(impl.module))


def describe(impl: Implementation, api: str) -> list[str]:
    """Report-header lines: the api in use, why, its declared conventions and what it leaves unexpressed."""
    name, how = resolve(impl, api)
    adapter = ADAPTERS[name]
    lines = [f"api: {name} ({how})"]
    if name != "native":
        lines += [f"  convention {topic}: {how}" for topic, how in adapter.conventions.items()]
        if impl.module is not None:
            unexpressed = adapter.namespace(impl.module).__unexpressed__
            lines += [f"  not expressible: {name}: {why}" for name, why in unexpressed.items()]
    return lines
