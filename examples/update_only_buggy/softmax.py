import numpy as np


class Softmax:
    # A standard fully-connected layer with softmax activation.

    def __init__(self, input_len, nodes):
        # We divide by input_len to reduce the variance of our initial values
        self.weights = np.random.randn(input_len, nodes) / input_len
        self.biases = np.zeros(nodes)

    def forward(self, input):
        '''
        Returns a 1d numpy array containing the respective probability values.
        - input can be any array with any dimensions.
        '''
        self.last_input_shape = input.shape
        input = input.flatten()
        self.last_input = input

        totals = np.dot(input, self.weights) + self.biases
        self.last_totals = totals

        exp = np.exp(totals)
        return exp / np.sum(exp, axis=0)

    def backprop(self, d_L_d_out, learn_rate):
        '''
        Updates weights and biases; returns the loss gradient for this layer's inputs.
        - d_L_d_out is the loss gradient for this layer's outputs (every entry is used, not only a nonzero one).
        '''
        t_exp = np.exp(self.last_totals)
        out = t_exp / np.sum(t_exp)

        # d out[i] / d totals[j] = out[i] * (1 if i == j else 0) - out[i] * out[j], summed against d_L_d_out
        d_L_d_t = out * (d_L_d_out - np.dot(d_L_d_out, out))

        # Gradients of loss against weights/biases/input (the input's before the weights are updated)
        d_L_d_w = np.outer(self.last_input, d_L_d_t)
        d_L_d_b = d_L_d_t
        d_L_d_inputs = self.weights @ d_L_d_t

        # Update weights / biases
        self.weights -= learn_rate * d_L_d_w
        self.biases -= learn_rate * d_L_d_b
        return d_L_d_inputs.reshape(self.last_input_shape)
