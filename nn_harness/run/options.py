"""The harness's options: each a command-line flag, an environment variable (shown in --help) and a key of the
assignment file (nn_harness/grading/assignment.py); the flag wins, then the variable, then the file."""

import os

import pytest

from nn_harness.grading import assignment, points

OPTIONS = {  # option: (environment variable, default, help)
    "impl": ("NN_IMPL", "impl", "the implementation under test: a module name, a .py file, a package folder or a "
             "notebook (.ipynb)"),
    "api": ("NN_API", "native", "the course profile it is written in: a shipped profile's name (native, torch7, "
            "practical_dl, cs231n, ...), a path to a profile .toml, or auto (docs/adapters.md)"),
    "profile": ("NN_PROFILE", "grading", "hypothesis profile: grading (derandomized), dev (fast) or thorough"),
    "examples": ("NN_EXAMPLES", None, "cases each check draws: one number for every check, or a .toml whose "
                 "[examples] table gives a count per check (default: the profile's; grading draws the counts "
                 "measured by bench/kill_curve.py, nn_harness/cases/examples.toml)"),
    "mnist_dir": ("MNIST_DIR", None, "folder with the official MNIST files (default: the embedded 5,000-digit subset)"),
    "plots": ("NN_PLOTS", None, "folder for learning-curve PNGs of the end-to-end checks"),
    "repro_dir": ("NN_REPRO_DIR", None, "save each failing layer case here as .npz + a standalone script"),
    # grading (docs/grading.md): nn_harness/grading/points.py, nn_harness/run/session_sandbox.py, nn_harness/sandbox/client.py
    "grade_json": ("NN_GRADE_JSON", None, "write a Gradescope results.json here (also when the run is cut short)"),
    "html": ("NN_HTML", None, "write a self-contained HTML report here: the verdict, every failure, heat maps of "
             "each mismatched array (expected, got, difference) and the learning curves"),
    "weights": ("NN_WEIGHTS", None, "points table replacing nn_harness/grading/weights.toml"),
    "check_timeout": ("NN_CHECK_TIMEOUT", None, "seconds per check before it fails as timed out, one for every check "
                      "(default: each check's own, from impl/'s time for it on this machine, at least 30 s: "
                      "nn_harness/run/deadlines.py; end-to-end checks: pytest-timeout's --timeout)"),
    "memory_limit_mb": ("NN_MEMORY_LIMIT_MB", None, "address-space limit of the sandbox process running the "
                        "implementation, in MB (default 4096; 0 for none)"),
    "grade_over": ("NN_GRADE_OVER", "expressible", "the grade: over the checks the profile grades (expressible) "
                   "or over the whole contract (contract)"),
    "assignment": ("NN_ASSIGNMENT", None, "a homework's assignment file (.toml): its name, the layers graded, "
                   "points, Gradescope visibility and any of these options (below the flag and the environment "
                   "variable; docs/grading.md)"),
    "notebook_cells": ("NN_NOTEBOOK_CELLS", "definitions", "what of a notebook (--impl x.ipynb) is run: definitions "
                       "(top-level imports, classes, functions, constants) or all; given for a .py, it is read as "
                       "cells exported from a notebook (# %%, # In[ ]:)"),
    # what the submission's imports find in the sandbox (docs/grading.md): nn_harness/sandbox/imports.py, packages.py
    "numpy_aliases": ("NN_NUMPY_ALIASES", None, "true or false (the flag alone: true): restore np.object, np.float, "
                      "np.int, np.bool, np.complex, np.str as NumPy < 1.24 had them (the builtins) in the sandbox "
                      "before the submission is imported (default: the course profile's [sandbox] numpy_aliases)"),
    "allow": ("NN_ALLOW", None, "packages the submission may import in the sandbox, by import name, comma-separated "
              "(scipy,skimage): bound read-only from the grader's environment with what they need; added to the "
              "course profile's [sandbox] allow (torch, tensorflow, jax and the grader's own code are refused)"),
}
FLAGS = ("numpy_aliases",)  # true or false: the flag alone means true


def option(config: pytest.Config, name: str) -> str | None:
    return given(config, name) or OPTIONS[name][1]


def given(config: pytest.Config, name: str) -> str | None:
    """The option's value when the flag, the environment variable or the assignment file gives one, in that order
    (None: its default applies)."""
    value = config.getoption(name) or os.environ.get(OPTIONS[name][0])
    if value or name == "assignment":
        return value
    found = assignment_of(config)
    return found.options.get(name) if found is not None else None


_ASSIGNMENT = pytest.StashKey[assignment.Assignment | None]()


def assignment_of(config: pytest.Config) -> assignment.Assignment | None:
    """This run's assignment (read once per process), or None when no --assignment / NN_ASSIGNMENT is given."""
    if _ASSIGNMENT not in config.stash:
        file = given(config, "assignment")
        config.stash[_ASSIGNMENT] = assignment.load(file, OPTIONS) if file else None
    return config.stash[_ASSIGNMENT]


def weights_of(config: pytest.Config) -> points.Weights:
    """The points table: --weights / NN_WEIGHTS when given, else the assignment's [points] or its `weights`, else
    nn_harness/grading/weights.toml."""
    explicit = config.getoption("weights", None) or os.environ.get(OPTIONS["weights"][0])
    found = assignment_of(config)
    if explicit or found is None or found.weights is None:
        return points.load_weights(option(config, "weights"))
    return found.weights
