import numpy as np

from .layer import Layer


def correlate2d_valid(image, kernel):
    """scipy.signal.correlate2d(image, kernel, "valid")."""
    kh, kw = kernel.shape
    oh, ow = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((oh, ow), dtype=np.result_type(image, kernel))
    for u in range(kh):
        for v in range(kw):
            out += kernel[u, v] * image[u:u + oh, v:v + ow]
    return out


def convolve2d_full(image, kernel):
    """scipy.signal.convolve2d(image, kernel, "full")."""
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    return correlate2d_valid(padded, kernel[::-1, ::-1])


class Convolutional(Layer):
    def __init__(self, input_shape, kernel_size, depth):
        input_depth, input_height, input_width = input_shape
        self.depth = depth
        self.input_shape = input_shape
        self.input_depth = input_depth
        self.output_shape = (depth, input_height - kernel_size + 1, input_width - kernel_size + 1)
        self.kernels_shape = (depth, input_depth, kernel_size, kernel_size)
        self.kernels = np.random.randn(*self.kernels_shape)
        self.biases = np.random.randn(*self.output_shape)

    def forward(self, input):
        self.input = input
        self.output = np.copy(self.biases)
        for i in range(self.depth):
            for j in range(self.input_depth):
                self.output[i] += correlate2d_valid(self.input[j], self.kernels[i, j])
        return self.output

    def backward(self, output_gradient, learning_rate):
        kernels_gradient = np.zeros(self.kernels_shape)
        input_gradient = np.zeros(self.input_shape, dtype=self.input.dtype)

        for i in range(self.depth):
            for j in range(self.input_depth):
                kernels_gradient[i, j] = correlate2d_valid(self.input[j], output_gradient[i])
                input_gradient[j] += convolve2d_full(output_gradient[i], self.kernels[i, j])

        self.kernels -= learning_rate * kernels_gradient
        self.biases -= learning_rate * output_gradient
        return input_gradient
