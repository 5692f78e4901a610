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
]
