"""What runs beside the submission, in the sandbox process: loading it, the adapters that drive it, the server
that answers the trusted side, and the helpers the checks build there. Nothing here imports torch, hypothesis,
pytest or the trusted side of the harness; the process set-up (jail.py) puts only this package, NumPy and the
standard library on the path.
"""

# The harness modules the trusted side may use beside the submission (harness/boundary.py `beside`).
SERVICES = {"training": "harness.sandbox.training", "helpers": "harness.sandbox.helpers"}
