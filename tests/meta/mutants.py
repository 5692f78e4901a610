"""The mutant bank: copies of impl/ with ONE realistic student bug each, and the layer whose checks must fail.

Each mutant is a list of exact text edits to impl/; an edit that no longer applies (impl/ changed) is an error
of the bank, reported as such, never a silent pass.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    layer: str  # the registry name whose checks must catch it (selected with -m)
    description: str
    edits: tuple[tuple[str, str, str], ...]  # (file in impl/, exact old text, new text)


def mutant(name: str, layer: str, description: str, file: str, old: str, new: str) -> Mutant:
    return Mutant(name, layer, description, ((file, old, new),))


MUTANTS = [
    # Linear
    mutant("linear_bias_grad_not_summed", "Linear", "bias gradient taken from the first sample only",
           "linear.py", "self._grads[1] += g.sum(axis=0)", "self._grads[1] += g[0]"),
    mutant("linear_weight_grad_transposed", "Linear", "weight gradient computed as x^T g and reshaped to fit",
           "linear.py", "self._grads[0] += g.T @ x",
           "self._grads[0] += (x.T @ g).reshape(self.out_features, self.in_features)"),
    mutant("linear_weight_grad_averaged", "Linear", "weight gradient divided by the batch size",
           "linear.py", "self._grads[0] += g.T @ x", "self._grads[0] += g.T @ x / x.shape[0]"),
    mutant("linear_grads_overwritten", "Linear", "gradient assigned instead of accumulated (+=)",
           "linear.py", "self._grads[0] += g.T @ x", "self._grads[0][...] = g.T @ x"),
    mutant("linear_float32_promoted", "Linear", "float32 input multiplied by float64 weights: output promoted",
           "linear.py", "out = input @ self.weight.T.astype(input.dtype, copy=False)", "out = input @ self.weight.T"),
    # Central differences over its own forward: every value right, every rule kept; only the forward calls show it.
    mutant("linear_numerical_backward", "Linear", "backward by central differences of its own forward (two forward "
           "calls per input and parameter element), accumulated into the buffers", "linear.py",
           """        # Leading axes are all "batch": fold them so the weight gradient is one matmul.
        x = input.reshape(-1, self.in_features)
        g = grad_output.reshape(-1, self.out_features)
        self._grads[0] += g.T @ x
        if self.bias is not None:
            self._grads[1] += g.sum(axis=0)
        return grad_output @ self.weight.astype(input.dtype, copy=False)""",
           """        x = input.astype(np.float64, order="C")  # a copy to perturb: the caller's input stays as it is
        grad_input = np.zeros_like(x)
        for tensor, grad in ((x, grad_input), *zip(self._params, self._grads)):
            flat, into = tensor.reshape(-1), grad.reshape(-1)
            for i in range(flat.size):
                original = flat[i]
                flat[i] = high = original + 1e-5
                up = self.forward(x)
                flat[i] = low = original - 1e-5
                down = self.forward(x)
                flat[i] = original
                into[i] += np.vdot(grad_output, up - down) / (high - low)
        return grad_input.astype(input.dtype, copy=False)"""),
    # Every value right (the checks set each case's mode); only the flag after construction is wrong ("train eval
    # switch").
    mutant("module_starts_in_eval_mode", "Linear", "a new module's training flag is False until train() is called",
           "module.py", "        self.training = True\n", "        self.training = False\n"),
    mutant("zero_grad_rebinds_buffers", "Linear", "zero_grad replaces the buffers instead of zeroing them",
           "module.py", "for g in self.grad_parameters():\n            g.fill(0)",
           "self._grads = [np.zeros_like(g) for g in self._grads]"),
    # Conv2d
    mutant("conv_flipped_kernel", "Conv2d", "true convolution (flipped kernel) instead of torch's cross-correlation",
           "conv.py", "return self.weight.transpose(0, 2, 3, 1)", "return self.weight[:, :, ::-1, ::-1].transpose(0, 2, 3, 1)"),
    mutant("conv_stride_ignored_in_backward", "Conv2d", "col2im scatters with stride 1 whatever the stride",
           "conv.py", "grad_padded[:, i : i + sh * ho : sh, j : j + sw * wo : sw]", "grad_padded[:, i : i + ho, j : j + wo]"),
    mutant("conv_padding_wrong_in_backward", "Conv2d", "padding cropped from the wrong side in backward",
           "conv.py", "grad_padded[:, ph : ph + h, pw : pw + w]", "grad_padded[:, :h, :w]"),
    mutant("conv_bias_grad_averaged", "Conv2d", "bias gradient averaged instead of summed",
           "conv.py", "self._grads[1] += g.sum(axis=1)", "self._grads[1] += g.mean(axis=1)"),
    Mutant("conv_stale_columns", "Conv2d", "im2col columns cached on the first forward only and reused forever", (
        ("conv.py", "self._cached_input, self._cached_cols = input, cols",
         "if self._cached_cols is None:\n            self._cached_input, self._cached_cols = input, cols"),
        ("conv.py", "cols = self._cached_cols if input is self._cached_input else self._columns(input)",
         "cols = self._cached_cols"))),
    # MaxPool2d
    mutant("maxpool_all_tied_maxima", "MaxPool2d", "the full gradient sent to every tied maximum of a window",
           "pooling.py", "            hit &= unrouted\n            unrouted ^= hit\n", ""),
    mutant("maxpool_routes_to_first_element", "MaxPool2d", "gradient routed to each window's first element",
           "pooling.py", "hit = padded[..., rows, cols] == out", "hit = np.isfinite(padded[..., rows, cols])"),
    mutant("maxpool_stride_ignored", "MaxPool2d", "stride argument ignored (always the kernel size)",
           "windows.py", "self.stride = self.kernel_size if stride is None else _pair(stride)",
           "self.stride = self.kernel_size"),
    mutant("maxpool_zero_padding", "MaxPool2d", "padding with zeros instead of -inf",
           "pooling.py", "_fill = -np.inf", "_fill = 0.0"),
    # Activations
    mutant("relu_forward_in_place", "ReLU", "forward clips its input in place",
           "activations.py", "return np.maximum(input, 0)", "np.maximum(input, 0, out=input)\n        return input"),
    mutant("relu_backward_in_place", "ReLU", "backward zeroes grad_output in place",
           "activations.py", "return grad_output * (input > 0)", "grad_output[input <= 0] = 0\n        return grad_output"),
    mutant("leaky_relu_slope_misplaced", "LeakyReLU", "negative slope applied on the positive side in backward",
           "activations.py", "return np.where(input > 0, grad_output, grad_output * self.negative_slope)",
           "return np.where(input > 0, grad_output * self.negative_slope, grad_output)"),
    mutant("sigmoid_derivative_of_input", "Sigmoid", "s(1 - s) evaluated on the input instead of the output",
           "activations.py", "s = sigmoid(input)\n        return grad_output * s * (1 - s)",
           "s = input\n        return grad_output * s * (1 - s)"),
    mutant("tanh_derivative_wrong", "Tanh", "1 - t instead of 1 - t^2",
           "activations.py", "return grad_output * (1 - t * t)", "return grad_output * (1 - t)"),
    mutant("elu_backward_forgets_alpha", "ELU", "derivative exp(x) instead of alpha * exp(x) for x <= 0",
           "activations.py", "grad_output * (self.alpha * np.exp(np.minimum(input, 0)))",
           "grad_output * np.exp(np.minimum(input, 0))"),
    mutant("elu_forward_without_minus_one", "ELU", "alpha * exp(x) instead of alpha * (exp(x) - 1): a jump at 0",
           "activations.py", "self.alpha * np.expm1(np.minimum(input, 0))", "self.alpha * np.exp(np.minimum(input, 0))"),
    mutant("elu_no_gradient_at_zero", "ELU", "masks x > 0 and x < 0 (ReLU's mask twice): gradient 0 at x == 0",
           "activations.py",
           "return np.where(input > 0, grad_output, grad_output * (self.alpha * np.exp(np.minimum(input, 0))))",
           "return grad_output * ((input > 0) + (input < 0) * self.alpha * np.exp(np.minimum(input, 0)))"),
    mutant("softplus_naive_overflow", "Softplus", "log(1 + exp(beta x)) / beta as written, no threshold: overflows",
           "activations.py", "return np.where(z > self.threshold, input, np.logaddexp(0, z) / self.beta)",
           "return np.log(1 + np.exp(z)) / self.beta"),
    mutant("softplus_backward_sigmoid_of_input", "Softplus", "derivative sigmoid(x) instead of sigmoid(beta x)",
           "activations.py", "grad_output * sigmoid(z))", "grad_output * sigmoid(input))"),
    mutant("softplus_threshold_on_input", "Softplus", "forward compares x, not beta x, with the threshold",
           "activations.py", "np.where(z > self.threshold, input, np.logaddexp",
           "np.where(input > self.threshold, input, np.logaddexp"),
    mutant("softmax_overflow", "Softmax", "exp of the raw logits (no max subtracted): overflows",
           "activations.py", "e = np.exp(x - x.max(axis=1, keepdims=True))", "e = np.exp(x)"),
    mutant("log_softmax_naive", "LogSoftmax", "log(softmax(x)): -inf once a probability underflows",
           "activations.py", "return log_softmax(input)", "return np.log(softmax(input))"),
    mutant("softmax_backward_diagonal_only", "Softmax", "Jacobian taken as diagonal s(1 - s)",
           "activations.py", "return s * (grad_output - (grad_output * s).sum(axis=1, keepdims=True))",
           "return grad_output * s * (1 - s)"),
    # Dropout
    mutant("dropout_not_rescaled", "Dropout", "survivors not scaled by 1/(1-p)",
           "dropout.py", "scale = 0.0 if self.p == 1 else 1 / (1 - self.p)", "scale = 1.0"),
    mutant("dropout_active_in_eval", "Dropout", "masks in eval mode too",
           "dropout.py", "if not self.training or self.p == 0:", "if self.p == 0:"),
    mutant("dropout_new_mask_in_backward", "Dropout", "backward draws a fresh mask",
           "dropout.py", "return grad_output * self._mask",
           "return grad_output * (module.rng.random(input.shape) >= self.p) / (1 - self.p)"),
    mutant("dropout_keeps_with_probability_p", "Dropout", "keeps (instead of drops) each element with probability p",
           "dropout.py", "keep = module.rng.random(input.shape) >= self.p", "keep = module.rng.random(input.shape) < self.p"),
    # Training-mode bugs that must fail one kind of check only: stale masks the mask checks of tests/test_dropout.py,
    # an in-place forward and a float64 mask the generic checks that also run Dropout in training.
    mutant("dropout_mask_drawn_once", "Dropout", "mask drawn on the first training forward and reused by every later one",
           "dropout.py", "        keep = module.rng.random(input.shape) >= self.p\n        self._mask = ",
           "        if self._mask is None:\n            keep = module.rng.random(input.shape) >= self.p\n"
           "            self._mask = "),
    mutant("dropout_backward_first_mask", "Dropout", "mask kept from the first forward only: backward uses a stale one",
           "dropout.py", "self._mask = keep.astype(input.dtype) * input.dtype.type(scale)\n        return input * self._mask",
           "mask = keep.astype(input.dtype) * input.dtype.type(scale)\n        if self._mask is None:\n"
           "            self._mask = mask\n        return input * mask"),
    mutant("dropout_forward_in_place", "Dropout", "training forward masks its input in place",
           "dropout.py", "return input * self._mask", "input *= self._mask\n        return input"),
    mutant("dropout_float64_mask", "Dropout", "mask built in float64: a float32 input comes out float64 in training",
           "dropout.py", "self._mask = keep.astype(input.dtype) * input.dtype.type(scale)", "self._mask = keep * scale"),
    # Flatten, Sequential
    mutant("flatten_loses_batch_axis", "Flatten", "flattens the batch axis away when it is 1",
           "reshape.py", "return input.reshape(input.shape[0], -1)", "return input.reshape(input.shape[0], -1).squeeze()"),
    mutant("sequential_wrong_inputs", "Sequential", "backward gives every child the Sequential's own input",
           "containers.py", "grad_output = child.backward(child_input, grad_output)",
           "grad_output = child.backward(input, grad_output)"),
    mutant("sequential_backward_reruns_forward", "Sequential",
           "backward runs every child's forward again (a Dropout draws a new mask, a BatchNorm updates twice)",
           "containers.py", "        for child, child_input in zip(reversed(self.modules), reversed(self._inputs)):",
           "        inputs = []\n        for child in self.modules:\n            inputs.append(input)\n"
           "            input = child.forward(input)\n"
           "        for child, child_input in zip(reversed(self.modules), reversed(inputs)):"),
    mutant("sequential_eval_not_propagated", "Sequential", "train()/eval() do not reach the children",
           "containers.py", "        for child in self.modules:\n            child.train(mode)\n", ""),
    Mutant("sequential_inputs_kept_across_forwards", "Sequential",
           "children's inputs appended on every forward, never cleared; backward takes the first forward's", (
               ("containers.py", "        self._inputs = []\n        for child in self.modules:\n",
                "        for child in self.modules:\n"),
               ("containers.py", "reversed(self._inputs)", "reversed(self._inputs[: len(self.modules)])"))),
    # BatchNorm1d
    mutant("batchnorm_running_var_biased", "BatchNorm1d", "running variance updated with the biased variance",
           "normalization.py", " * (n / (n - 1))", ""),
    mutant("batchnorm_backward_missing_term", "BatchNorm1d", "backward ignores the dependence of the variance on x",
           "normalization.py",
           "g_hat - g_hat.mean(axis=axes, keepdims=True) - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)",
           "g_hat - g_hat.mean(axis=axes, keepdims=True)"),
    mutant("batchnorm_eval_uses_batch_statistics", "BatchNorm1d", "eval mode still normalises with batch statistics",
           "normalization.py", "        if self.training:\n            axes = self._axes(input)",
           "        if True:\n            axes = self._axes(input)"),
    # BatchNorm2d (its code is BatchNorm1d's: these bugs show on (N, C, H, W) input only)
    mutant("batchnorm2d_unbiased_count_is_batch_size", "BatchNorm2d",
           "running variance corrected with N / (N - 1), not the count per channel N H W / (N H W - 1)",
           "normalization.py", "n = input.size // self.num_features", "n = input.shape[0]"),
    mutant("batchnorm2d_normalises_per_sample", "BatchNorm2d",
           "each sample's channel normalised over its own H and W (instance norm), not over the batch",
           "normalization.py", "return standardize(input, axes, self.eps)", "return standardize(input, axes[1:], self.eps)"),
    # LayerNorm
    mutant("layernorm_over_batch_axis", "LayerNorm", "statistics taken over the batch axis too",
           "normalization.py", "return tuple(range(input.ndim - len(self.normalized_shape), input.ndim))",
           "return (0, *range(input.ndim - len(self.normalized_shape), input.ndim))"),
    mutant("layernorm_backward_forgets_weight", "LayerNorm", "grad of input not multiplied by the elementwise weight",
           "normalization.py",
           "return standardize_backward(self._scale_backward(grad_output, x_hat, input), x_hat, inv_std, axes)",
           "self._scale_backward(grad_output, x_hat, input)\n"
           "        return standardize_backward(grad_output, x_hat, inv_std, axes)"),
    # GroupNorm
    mutant("groupnorm_wrong_group_reshape", "GroupNorm", "(N, C, *) reshaped to (N, -1, G): groups of strided channels",
           "normalization.py", "return array.reshape(array.shape[0], self.num_groups, -1)",
           "return array.reshape(array.shape[0], -1, self.num_groups)"),
    mutant("groupnorm_batch_statistics", "GroupNorm", "each group's statistics taken over the whole batch",
           "normalization.py", "return standardize(self._grouped(input), (2,), self.eps)",
           "return standardize(self._grouped(input), (0, 2), self.eps)"),
    # GELU
    mutant("gelu_tanh_wrong_constant", "GELU", "tanh approximation with 0.04715 for 0.044715 (forward and backward)",
           "activations.py", "np.tanh(k * (x + 0.044715 * x**3))", "np.tanh(k * (x + 0.04715 * x**3))"),
    mutant("gelu_backward_missing_density", "GELU", "derivative Phi(x) only, without the x phi(x) term",
           "activations.py", "slope = normal_cdf(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)",
           "slope = normal_cdf(x)"),
    mutant("gelu_tanh_backward_chain_rule", "GELU", "tanh form's derivative without the 3 of d(x^3)/dx",
           "activations.py", "k * (1 + 3 * 0.044715 * x * x)", "k * (1 + 0.044715 * x * x)"),
    # AvgPool2d
    mutant("avgpool_ignores_count_include_pad", "AvgPool2d", "divides by the kernel size even when padding must not count",
           "avgpool.py", "if self.count_include_pad:", "if True:"),
    mutant("avgpool_backward_not_divided", "AvgPool2d", "backward hands every element the window's whole gradient",
           "avgpool.py", "share = grad_output / self._divisor(input)", "share = grad_output"),
    # Embedding
    mutant("embedding_assigns_repeated_indices", "Embedding",
           "weight gradient by fancy-index +=: an index repeated in the batch adds only once",
           "embedding.py", "np.add.at(self._grads[0], input.reshape(-1), grad_output.reshape(-1, self.embedding_dim))",
           "self._grads[0][input.reshape(-1)] += grad_output.reshape(-1, self.embedding_dim)"),
    mutant("embedding_grad_averaged", "Embedding", "weight gradient divided by the batch size",
           "embedding.py", "grad_output.reshape(-1, self.embedding_dim))",
           "grad_output.reshape(-1, self.embedding_dim) / len(input))"),
    # Criteria
    mutant("mse_over_batch_only", "MSELoss", "MSE gradient divided by the batch size, not the number of elements",
           "losses.py", "return (2 * (input - target) / input.size)", "return (2 * (input - target) / input.shape[0])"),
    mutant("nll_gradient_not_averaged", "NLLLoss", "gradient misses the 1/N of the mean",
           "losses.py", "grad[np.arange(len(target)), target] = -1 / len(target)",
           "grad[np.arange(len(target)), target] = -1"),
    mutant("probability_nll_gradient_not_averaged", "ProbabilityNLLLoss",
           "gradient -1 / p at the target, not divided by the batch size", "losses.py",
           "grad[rows, target] = -1 / (len(target) * input[rows, target])", "grad[rows, target] = -1 / input[rows, target]"),
    mutant("cross_entropy_naive_softmax", "CrossEntropyLoss", "log of exp: overflows for large logits",
           "losses.py", "return _nll(log_softmax(input), target)",
           "return _nll(np.log(np.exp(input) / np.exp(input).sum(axis=1, keepdims=True)), target)"),
    mutant("cross_entropy_gradient_not_averaged", "CrossEntropyLoss", "gradient not divided by the batch size",
           "losses.py", "        grad /= len(target)\n", ""),
    # Every value right (softmax ignores a shift); only the caller's logits change: "loss inputs not modified".
    mutant("cross_entropy_shifts_logits_in_place", "CrossEntropyLoss",
           "forward subtracts each row's max from the caller's logits in place, for stability",
           "losses.py", "        return _nll(log_softmax(input), target)\n",
           "        input -= input.max(axis=1, keepdims=True)\n        return _nll(log_softmax(input), target)\n"),
    # Optimizers
    mutant("sgd_weight_decay_sign", "SGD", "weight decay subtracted from the gradient",
           "optim.py", "d = g + self.weight_decay * p if self.weight_decay else g",
           "d = g - self.weight_decay * p if self.weight_decay else g"),
    mutant("sgd_momentum_dampened", "SGD", "momentum buffer updated with (1 - momentum) * d",
           "optim.py", "buf += d", "buf += (1 - self.momentum) * d"),
    # Its own zero_grad, rebinding the loop variable: nothing is zeroed ("zero grad zeroes module grads").
    mutant("sgd_zero_grad_rebinds_loop_variable", "SGD", "zero_grad assigns zeros to the loop variable, not the buffers",
           "optim.py", "        self.module.zero_grad()\n",
           "        for g in self.grads:\n            g = np.zeros_like(g)  # noqa: F841 - the bug\n"),
    mutant("adam_no_bias_correction", "Adam", "moments used without bias correction",
           "optim.py", "step_size = self.lr / (1 - beta1**self.t)\n        bias_correction2_sqrt = (1 - beta2**self.t) ** 0.5",
           "step_size = self.lr\n        bias_correction2_sqrt = 1.0"),
    # RNNCell, LSTMCell, RNN, LSTM (a mutant of the shared cell or sequence code is declared on one layer)
    mutant("rnncell_tanh_derivative_wrong", "RNNCell", "tanh' taken as 1 - h instead of 1 - h^2",
           "recurrent.py", "grad_h * (1 - h * h)", "grad_h * (1 - h)"),
    mutant("rnncell_weight_hh_grad_from_new_h", "RNNCell", "weight_hh gradient from the new hidden state, not the previous",
           "recurrent.py", "self._preactivation_backward(input, state[0], grad_h",
           "self._preactivation_backward(input, h, grad_h"),
    mutant("rnncell_bias_hh_grad_missing", "RNNCell", "only bias_ih gets the bias gradient (bias_hh's stays zero)",
           "recurrent.py", "            self._grads[3] += grad_bias\n", ""),
    mutant("lstmcell_forget_gate_from_input_slice", "LSTMCell", "forget gate computed from the input gate's slice",
           "recurrent.py", "sigmoid(zi), sigmoid(zf), np.tanh(zg)", "sigmoid(zi), sigmoid(zi), np.tanh(zg)"),
    Mutant("lstmcell_gate_order_ifog", "LSTMCell", "gate rows in cs231n's order i, f, o, g instead of torch's i, f, g, o", (
        ("recurrent.py", "zi, zf, zg, zo = np.split(", "zi, zf, zo, zg = np.split("),
        ("recurrent.py", "grad_c * i * (1 - g * g),\n                                 grad_h * tanh_c * o * (1 - o)]",
         "grad_h * tanh_c * o * (1 - o),\n                                 grad_c * i * (1 - g * g)]"))),
    mutant("lstmcell_h_path_misses_tanh_derivative", "LSTMCell", "dh/dc taken as o instead of o (1 - tanh(c)^2)",
           "recurrent.py", "grad_c = grad_c + grad_h * o * (1 - tanh_c * tanh_c)", "grad_c = grad_c + grad_h * o"),
    mutant("rnn_bptt_upstream_replaces_carry", "RNN", "each step's upstream replaces the gradient the later step sent back",
           "recurrent.py", "grad_state = (grad_state[0] + grad_output[:, t], *grad_state[1:])",
           "grad_state = (grad_output[:, t], *grad_state[1:])"),
    mutant("rnn_output_shifted_one_step", "RNN", "output stacks the states before each step (h0 first, last h dropped)",
           "recurrent.py", "np.stack([s[0] for s in states[1:]], axis=1)", "np.stack([s[0] for s in states[:-1]], axis=1)"),
    mutant("rnn_grad_h0_zeros", "RNN", "backward returns zeros for the initial hidden state's gradient",
           "recurrent.py", "        return grad_input, grad_h0\n", "        return grad_input, np.zeros_like(h0)\n"),
    mutant("lstm_cell_state_path_dropped", "LSTM", "no gradient into the previous cell state (grad_cx = 0, not grad_c * f)",
           "recurrent.py", "return grad_input, (grad_hx, grad_c * f)", "return grad_input, (grad_hx, np.zeros_like(cx))"),
    mutant("lstm_bptt_state_off_by_one", "LSTM", "step t's backward given the state after the step instead of before it",
           "recurrent.py", "self.cell._step_backward(input[:, t], states[t], saved[t]",
           "self.cell._step_backward(input[:, t], states[t + 1], saved[t]"),
    mutant("lstm_bptt_cell_grad_not_carried", "LSTM", "only h's gradient carried back through time, c's reset each step",
           "recurrent.py", "grad_state = (grad_state[0] + grad_output[:, t], *grad_state[1:])",
           "grad_state = (grad_state[0] + grad_output[:, t], *(np.zeros_like(g) for g in grad_state[1:]))"),
    # TemporalLinear (Linear's code: a mistake folding the time axis shows on sequences)
    mutant("temporal_linear_grad_output_folded_wrong", "TemporalLinear",
           "upstream gradient folded to (steps, out) by reshape(out, -1).T: its values land on the wrong steps",
           "linear.py", "g = grad_output.reshape(-1, self.out_features)", "g = grad_output.reshape(self.out_features, -1).T"),
    mutant("temporal_linear_input_folded_wrong", "TemporalLinear",
           "input folded to (steps, in) by reshape(in, -1).T for the weight gradient",
           "linear.py", "x = input.reshape(-1, self.in_features)", "x = input.reshape(self.in_features, -1).T"),
    # TemporalCrossEntropyLoss
    mutant("temporal_ce_mean_over_masked_steps_too", "TemporalCrossEntropyLoss",
           "the mean divides by every step, masked ones included", "losses.py", "kept / kept.sum()", "kept / kept.size"),
    mutant("temporal_ce_mask_ignored_in_backward", "TemporalCrossEntropyLoss",
           "backward spreads the gradient over masked steps too", "losses.py", "grad *= weights[:, None]",
           "grad /= weights.astype(bool).sum()"),
]
