"""Plug in an implementation: `pytest --impl alice.py` (or NN_IMPL=...). Options: `pytest --help`, group nn-harness."""

import os

# The checks run many tiny array operations: BLAS and torch thread pools only add contention, above all with
# one pytest-xdist worker per core. Set before numpy and torch are imported; an explicit setting wins.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# entry: also an installed entry point
pytest_plugins = ["nn_harness.run.entry", "nn_harness.run.plugin", "nn_harness.run.verdicts"]
