"""How to compare: the registry of layer specs, hypothesis strategies, checks, and the pytest plugin."""
