"""Benchmarks: impl/ against torch CPU, side by side in one run (`python -m bench`)."""
