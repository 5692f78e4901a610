"""The checks: small functions of (implementation, case) that return nothing or raise one CheckFailure.

layer: forward and backward against the torch twin and finite differences, and the contract's rules;
kinks: subgradients at ties and kinks; dropout: statistical tests; loss: criteria; optim: optimizers.
"""
