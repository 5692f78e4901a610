"""The native contract itself (docs/contract.md): the submission is its own namespace."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from harness.adapters.base import Adapter


class Native(Adapter):
    name = "native"
    signature = "no course style recognised: the contract's own names"
    conventions = {"everything": "none converted: the submission spells the contract itself (docs/contract.md)"}

    def detects(self, module: ModuleType) -> bool:
        return True  # the fallback

    def namespace(self, module: ModuleType) -> Any:
        return module
