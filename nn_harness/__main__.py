"""`python -m nn_harness`: the `nn-harness` command (nn_harness/run/cli.py)."""

from nn_harness.run.cli import entry

entry()
