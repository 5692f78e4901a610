"""Chollet's NaiveDense and NaiveSequential (Deep Learning with Python, 2nd ed., ch. 2), ported from TensorFlow to
NumPy: forward only (grade with --api naive-dense, or auto).

    model = NaiveSequential([
        NaiveDense(input_size=28 * 28, output_size=512, activation=relu),
        NaiveDense(input_size=512, output_size=10, activation=softmax),
    ])
"""

import numpy as np


def relu(x):
    # tf.nn.relu
    return np.maximum(x, 0)


def softmax(x):
    # tf.nn.softmax: over the last axis; shifted by each row's maximum so exp cannot overflow
    shifted = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return shifted / np.sum(shifted, axis=-1, keepdims=True)


class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation
        # W is (input_size, output_size): a batch of rows times W
        self.W = np.random.uniform(0.0, 0.1, size=(input_size, output_size))
        self.b = np.zeros(output_size)

    def __call__(self, inputs):
        return self.activation(inputs @ self.W + self.b)

    @property
    def weights(self):
        return [self.W, self.b]


class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        x = inputs
        for layer in self.layers:
            x = layer(x)
        return x

    @property
    def weights(self):
        found = []
        for layer in self.layers:
            found += layer.weights
        return found
