"""loss.py: softmax cross-entropy on the scores of the last layer."""

import numpy as np


def softmax_loss(X, y):
    """(mean cross-entropy of softmax(X) for the integer labels y, its gradient w.r.t. X)."""
    m = y.shape[0]
    shifted = X - np.max(X, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_probs[np.arange(m), y]) / m
    dX = np.exp(log_probs)
    dX[np.arange(m), y] -= 1
    return loss, dX / m
