"""Report: what a run shows: the terminal verdict's table, the HTML report and its evidence, reproduction scripts,
provenance. Takes plain values from run/ (never a pytest option); may import grading, checks, cases, training, sandbox.
"""
