"""`python -m bench`: the layer benchmark, then the MNIST end-to-end benchmark."""

from bench import layers

layers.main([])
