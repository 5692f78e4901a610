"""nn-harness: verify hand-written NumPy neural-network layers against PyTorch twins and finite differences.

The stages, in the order a run's data takes them; each is a folder whose docstring says what it may import.
A stage imports only the stages listed below it here, and `sandbox` nothing of the others:

    run/       the command line and the pytest plugin: options, the session's sandbox, the verdict collector
    report/    the terminal verdict's table, the HTML report, evidence, reproduction scripts, provenance
    grading/   points, assignment files, grade-all, the gradebook, Gradescope and Classroom bundles
    checks/    the checks, with the comparison and finite differences
    cases/     the registry of layer specs, hypothesis strategies and profiles, narrowing, case building
    training/  MNIST data and the end-to-end recipes (the trusted side's half)
    sandbox/   what runs beside the submission, and the trusted client of its wire (client.py)

`nn_harness.check(...)` is the notebook API (nn_harness/notebook_check.py). Importing this package imports
nothing else: the sandbox's process imports it too, and a notebook's kernel should not pay for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nn_harness.notebook_check import Result

__all__ = ["Result", "check"]


def check(*args: Any, **kwargs: Any) -> Result:
    """Check an implementation from Python (a notebook): see nn_harness/notebook_check.py `check`."""
    from nn_harness.notebook_check import check as run

    return run(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "Result":
        from nn_harness.notebook_check import Result

        return Result
    raise AttributeError(f"module 'nn_harness' has no attribute {name!r}")
