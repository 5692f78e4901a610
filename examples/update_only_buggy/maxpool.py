import numpy as np


class MaxPool2:
    # A Max Pooling layer using a pool size of 2.

    def iterate_regions(self, image):
        '''Yields the non-overlapping 2x2 regions of the (h, w, num_filters) image.'''
        h, w, _ = image.shape
        new_h = h // 2
        new_w = w // 2
        for i in range(new_h):
            for j in range(new_w):
                im_region = image[(i * 2):(i * 2 + 2), (j * 2):(j * 2 + 2)]
                yield im_region, i, j

    def forward(self, input):
        '''
        Returns a 3d numpy array with dimensions (h // 2, w // 2, num_filters).
        - input is a 3d numpy array with dimensions (h, w, num_filters)
        '''
        self.last_input = input
        h, w, num_filters = input.shape
        output = np.zeros((h // 2, w // 2, num_filters), dtype=input.dtype)
        for im_region, i, j in self.iterate_regions(input):
            output[i, j] = np.amax(im_region, axis=(0, 1))
        return output

    def backprop(self, d_L_d_out):
        '''
        Returns the loss gradient for this layer's inputs: each window's gradient goes to its maximum
        (to the first one when several pixels tie).
        '''
        d_L_d_input = np.zeros(self.last_input.shape, dtype=d_L_d_out.dtype)
        for im_region, i, j in self.iterate_regions(self.last_input):
            h, w, f = im_region.shape
            flat = im_region.reshape(h * w, f)
            first_max = np.argmax(flat, axis=0)
            for f2 in range(f):
                i2, j2 = divmod(first_max[f2], w)
                d_L_d_input[i * 2 + i2, j * 2 + j2, f2] = d_L_d_out[i, j, f2]
        return d_L_d_input
