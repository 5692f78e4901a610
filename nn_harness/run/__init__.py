"""Run: the command line (`nn-harness`, `python -m nn_harness`) and the pytest plugin: options, the session's
sandbox, the fixtures the checks use and the verdict collector. The top stage: it may import every other.
"""
