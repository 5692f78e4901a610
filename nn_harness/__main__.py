"""`python -m nn_harness`: the `nn-harness` command (nn_harness/run/cli.py)."""

import sys

from nn_harness.run.cli import main

sys.exit(main())
