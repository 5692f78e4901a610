"""Checks: small functions of (implementation, case) that return nothing or raise one CheckFailure; compare.py and
finite_diff.py are what they measure with. May import cases, training and sandbox; never grading, report or run.

layer: forward and backward against the torch twin and finite differences, and the contract's rules;
kinks: subgradients at ties and kinks; dropout: statistical tests; loss: criteria; optim: optimizers.
"""
