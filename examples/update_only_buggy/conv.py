import numpy as np


class Conv3x3:
    # A Convolution layer using 3x3 filters (valid padding, no bias).

    def __init__(self, num_filters):
        self.num_filters = num_filters
        # filters is a 3d array with dimensions (num_filters, 3, 3); divide by 9 to keep the initial values small
        self.filters = np.random.randn(num_filters, 3, 3) / 9

    def iterate_regions(self, image):
        '''Yields every 3x3 region of the 2d image, with its top-left corner (i, j).'''
        h, w = image.shape
        for i in range(h - 2):
            for j in range(w - 2):
                im_region = image[i:(i + 3), j:(j + 3)]
                yield im_region, i, j

    def forward(self, input):
        '''
        Returns a 3d numpy array with dimensions (h - 2, w - 2, num_filters).
        - input is a 2d numpy array
        '''
        self.last_input = input
        h, w = input.shape
        output = np.zeros((h - 2, w - 2, self.num_filters), dtype=input.dtype)
        for im_region, i, j in self.iterate_regions(input):
            output[i, j] = np.sum(im_region * self.filters, axis=(1, 2))
        return output

    def backprop(self, d_L_d_out, learn_rate):
        '''
        Updates the filters and returns the loss gradient for this layer's input.
        - d_L_d_out is the loss gradient for this layer's outputs, (h - 2, w - 2, num_filters).
        '''
        d_L_d_filters = np.zeros(self.filters.shape)
        d_L_d_input = np.zeros(self.last_input.shape, dtype=d_L_d_out.dtype)
        for im_region, i, j in self.iterate_regions(self.last_input):
            for f in range(self.num_filters):
                d_L_d_filters[f] += d_L_d_out[i, j, f] * im_region
                d_L_d_input[i:(i + 3), j:(j + 3)] += d_L_d_out[i, j, f] * self.filters[f]

        # Update filters
        self.filters -= learn_rate * d_L_d_filters
        return d_L_d_input
