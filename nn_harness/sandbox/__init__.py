"""Sandbox: what runs beside the submission, and the trusted client of its wire. The bottom stage: it imports no other.

Sandbox side (in the sandbox process): jail.py sets it up, server.py answers requests, imports.py decides what the
submission's imports find (stand-ins, NumPy's old aliases), loading.py and cells.py import the submission, adapters/
drive it, student.py, helpers.py and training.py run beside it, wire.py is the format.
Trusted side (in the grader's process): client.py starts the sandbox and holds handles to what lives there,
notebook.py turns a notebook into the module the sandbox imports, and packages.py finds the packages a course allows.
Nothing here imports torch, hypothesis or pytest; the process set-up (jail.py) puts only this package, NumPy, the
allowed packages and the standard library on the sandbox's path.
"""

# The harness modules the trusted side may use beside the submission (nn_harness/sandbox/client.py `beside`).
SERVICES = {"training": "nn_harness.sandbox.training", "helpers": "nn_harness.sandbox.helpers"}
