"""The native contract itself (docs/contract.md): the submission is its own namespace."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from nn_harness.sandbox.adapters.base import Adapter


class Native(Adapter):
    def detects(self, module: ModuleType) -> bool:
        return True  # the fallback

    def namespace(self, module: ModuleType) -> Any:
        return module
