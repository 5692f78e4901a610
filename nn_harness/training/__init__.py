"""Training, trusted side: MNIST data (the test labels stay here) and the end-to-end recipes; the loop itself runs
beside the submission (nn_harness/sandbox/training.py). May import sandbox only.
"""
