"""`python -m bench [--mnist-dir DIR]`: the layer benchmark, then the MNIST end-to-end benchmark."""

import sys

from bench import end_to_end, layers

layers.main([])
print()
sys.exit(end_to_end.main(sys.argv[1:]))
