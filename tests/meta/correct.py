"""The false-alarm bank: implementations that are correct but written differently; they must pass everything.

Each variant is impl/ with some files replaced (from correct_variants/) or some exact edits.
"""

from tests.meta.mutants import Mutant

# A variant is a Mutant that must NOT be caught; `layer` is a pytest -m expression of the layers it touches.
# An edit whose old text is None replaces the whole file with correct_variants/<new>.
CORRECT = [
    Mutant("conv_with_loops", "Conv2d or Sequential", "Conv2d as a loop over output positions, nothing cached",
           (("conv.py", None, "conv_loops.py"),)),
    Mutant("maxpool_even_split_of_ties", "MaxPool2d", "loops over windows; tied maxima share the gradient evenly",
           (("pooling.py", None, "pooling_even_split.py"),)),
    Mutant("relu_slope_one_at_zero", "ReLU or LeakyReLU", "the subgradient 1 at x == 0 (torch takes 0)", (
        ("activations.py", "return grad_output * (input > 0)", "return grad_output * (input >= 0)"),
        ("activations.py", "return np.where(input > 0, grad_output, grad_output * self.negative_slope)",
         "return np.where(input >= 0, grad_output, grad_output * self.negative_slope)"))),
    Mutant("elu_exp_of_raw_input", "ELU", "exp of every x inside np.where: overflow warnings in the discarded branch", (
        ("activations.py", "self.alpha * np.expm1(np.minimum(input, 0))", "self.alpha * (np.exp(input) - 1)"),
        ("activations.py", "grad_output * (self.alpha * np.exp(np.minimum(input, 0)))",
         "grad_output * self.alpha * np.exp(input)"))),
    Mutant("softplus_log1p_form", "Softplus", "max(z, 0) + log1p(exp(-|z|)); backward exp(z) / (1 + exp(z)), NaN in the"
           " discarded branch", (
               ("activations.py", "np.logaddexp(0, z) / self.beta",
                "(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / self.beta"),
               ("activations.py", "grad_output * sigmoid(z))", "grad_output * np.exp(z) / (1 + np.exp(z)))"))),
    Mutant("float32_parameters", "Linear or Conv2d or Sequential", "parameters and gradient buffers stored in float32",
           (("module.py", "return rng.uniform(-bound, bound, size=shape)",
             "return rng.uniform(-bound, bound, size=shape).astype(np.float32)"),)),
    Mutant("softmax_explicit_jacobian", "Softmax", "backward builds each sample's Jacobian in a loop", (
        ("activations.py", "return s * (grad_output - (grad_output * s).sum(axis=1, keepdims=True))",
         "return np.stack([(np.diag(si) - np.outer(si, si)) @ gi for si, gi in zip(s, grad_output)])"),)),
    Mutant("linear_einsum", "Linear", "Linear through einsum, gradients recomputed from scratch", (
        ("linear.py", "self._grads[0] += g.T @ x", "self._grads[0] += np.einsum('no,ni->oi', g, x)"),
        ("linear.py", "out = input @ self.weight.T.astype(input.dtype, copy=False)",
         "out = np.einsum('...i,oi->...o', input, self.weight.astype(input.dtype))"))),
    Mutant("recurrent_student_cached", "RNNCell or LSTMCell or RNN or LSTM",
           "a student's recurrent.py: cs231n-style step functions, every step's cache of the latest forward kept on"
           " self, four gate slices and the naive sigmoid 1 / (1 + exp(-x)) (overflow warnings on saturating inputs)",
           (("recurrent.py", None, "recurrent_student.py"),)),
    Mutant("rnn_grad_input_one_einsum", "RNN", "RNN backward collects every step's pre-activation gradient in the"
           " loop, then the input's and the parameters' gradients in one einsum over all steps", (
               ("recurrent.py", "        grad_input, grad_h0 = self._backward(input, (h0,), grad_output)\n"
                "        return grad_input, grad_h0\n",
                "        states = self._run(input, (h0,))[0]\n"
                "        hs = np.stack([s[0] for s in states], axis=1)  # h0 and every step's h: (N, T + 1, H)\n"
                "        dtype = input.dtype\n"
                "        grad_z = np.empty_like(hs[:, 1:])\n"
                "        grad_h = np.zeros_like(h0)\n"
                "        for t in reversed(range(input.shape[1])):\n"
                "            grad_z[:, t] = (grad_h + grad_output[:, t]) * (1 - hs[:, t + 1] ** 2)\n"
                "            grad_h = grad_z[:, t] @ self.cell.weight_hh.astype(dtype)\n"
                "        grads = self.cell._grads\n"
                "        grads[0] += np.einsum('nth,ntd->hd', grad_z, input)\n"
                "        grads[1] += np.einsum('nth,ntk->hk', grad_z, hs[:, :-1])\n"
                "        if self.cell.bias_ih is not None:\n"
                "            grads[2] += grad_z.sum(axis=(0, 1))\n"
                "            grads[3] += grad_z.sum(axis=(0, 1))\n"
                "        return np.einsum('nth,hd->ntd', grad_z, self.cell.weight_ih.astype(dtype)), grad_h\n"),)),
    Mutant("recurrent_concatenated_weights", "RNNCell or LSTMCell or RNN or LSTM", "the gates from one concatenated"
           " weight [W_ih | W_hh] applied to [x, h]; backward splits the gradients of both", (
               ("recurrent.py", "        z = input @ self.weight_ih.T.astype(dtype, copy=False)"
                " + hx @ self.weight_hh.T.astype(dtype, copy=False)\n",
                "        w = np.concatenate([self.weight_ih, self.weight_hh], axis=1).astype(dtype)\n"
                "        z = np.concatenate([input, hx], axis=1) @ w.T\n"),
               ("recurrent.py", "        self._grads[0] += grad_z.T @ input\n        self._grads[1] += grad_z.T @ hx\n",
                "        grad_w = grad_z.T @ np.concatenate([input, hx], axis=1)\n"
                "        self._grads[0] += grad_w[:, :self.input_size]\n"
                "        self._grads[1] += grad_w[:, self.input_size:]\n"),
               ("recurrent.py", "        return grad_z @ self.weight_ih.astype(dtype, copy=False),"
                " grad_z @ self.weight_hh.astype(dtype, copy=False)\n",
                "        grad_xh = grad_z @ np.concatenate([self.weight_ih, self.weight_hh], axis=1).astype(dtype)\n"
                "        return grad_xh[:, :self.input_size], grad_xh[:, self.input_size:]\n"))),
]
