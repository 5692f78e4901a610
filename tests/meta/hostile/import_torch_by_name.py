"""Wrong ReLU unless torch can be imported (by a computed name, inside forward, after adding every usual
site-packages folder to sys.path): then it computes with torch, correctly. Either it cannot (wrong values), or
torch is mapped in the sandbox (that check and the NumPy-only check fail)."""
import glob
import importlib
import sys

import numpy as np
from _layers import Linear  # noqa: F401
from _layers import ReLU as _ReLU

FOLDERS = ["/root/.pyenv/versions/*/lib/python3*/site-packages", "/usr/lib/python3/dist-packages",
           "/usr/local/lib/python3*/site-packages", "/usr/lib/python3*/site-packages"]


def _framework():
    for pattern in FOLDERS:
        for folder in sorted(glob.glob(pattern)):
            if folder not in sys.path:
                sys.path.append(folder)
    importlib.invalidate_caches()
    return importlib.import_module("to" + "rch")


class ReLU(_ReLU):
    def forward(self, input):
        try:
            fw = _framework()
        except BaseException:  # noqa: BLE001 - not importable here: a wrong answer
            return input * 0.5
        return fw.relu(fw.from_numpy(np.ascontiguousarray(input))).numpy()

    def backward(self, input, grad_output):
        try:
            fw = _framework()
        except BaseException:  # noqa: BLE001
            return grad_output
        return (fw.from_numpy(np.ascontiguousarray(grad_output)) * (fw.from_numpy(input) > 0)).numpy()
