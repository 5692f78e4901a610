"""Recurrent layers: the Elman (tanh) and LSTM cells, and one-layer batch-first sequences of them.

A cell's step maps one time step's input and state to the next state; RNN and LSTM run their cell's step along the
time axis and backpropagate through time with the same step's backward, so the step math lives in the cells only.
A state is a tuple of (N, H) arrays: (h,) for the Elman cell, (h, c) for the LSTM cell.
"""

from __future__ import annotations

import numpy as np

from .activations import sigmoid
from .module import Module, uniform_init

State = tuple[np.ndarray, ...]


class _Cell(Module):
    """weight_ih (G*H, D), weight_hh (G*H, H) and optionally bias_ih, bias_hh (G*H,) for G gates, in torch's order
    and with its initialisation U(-1/sqrt(H), 1/sqrt(H)); the gates' pre-activations are one affine map of the
    input and the previous h."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        rows = self.gates * hidden_size
        self.weight_ih = uniform_init((rows, input_size), hidden_size)
        self.weight_hh = uniform_init((rows, hidden_size), hidden_size)
        self.bias_ih = uniform_init((rows,), hidden_size) if bias else None
        self.bias_hh = uniform_init((rows,), hidden_size) if bias else None
        self._register(*(p for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh) if p is not None))

    def _preactivation(self, input: np.ndarray, hx: np.ndarray) -> np.ndarray:
        """input W_ih^T + b_ih + hx W_hh^T + b_hh, in the input's dtype."""
        dtype = input.dtype
        z = input @ self.weight_ih.T.astype(dtype, copy=False) + hx @ self.weight_hh.T.astype(dtype, copy=False)
        if self.bias_ih is not None:
            z += (self.bias_ih + self.bias_hh).astype(dtype, copy=False)
        return z

    def _preactivation_backward(self, input: np.ndarray, hx: np.ndarray, grad_z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add the parameter gradients for dL/dz and return dL/dinput and dL/dhx."""
        self._grads[0] += grad_z.T @ input
        self._grads[1] += grad_z.T @ hx
        if self.bias_ih is not None:
            grad_bias = grad_z.sum(axis=0)  # the two biases enter z the same way
            self._grads[2] += grad_bias
            self._grads[3] += grad_bias
        dtype = input.dtype
        return grad_z @ self.weight_ih.astype(dtype, copy=False), grad_z @ self.weight_hh.astype(dtype, copy=False)

    def _step(self, input: np.ndarray, state: State) -> tuple[State, tuple[np.ndarray, ...]]:
        """The next state, and the intermediate values `_step_backward` needs."""
        raise NotImplementedError

    def _step_backward(self, input: np.ndarray, state: State, saved: tuple[np.ndarray, ...],
                       grad_state: State) -> tuple[np.ndarray, State]:
        """dL/dinput and dL/d(state) from dL/d(next state); adds the parameter gradients."""
        raise NotImplementedError


class RNNCell(_Cell):
    """torch.nn.RNNCell (tanh): h' = tanh(input W_ih^T + b_ih + hx W_hh^T + b_hh)."""

    def _step(self, input: np.ndarray, state: State) -> tuple[State, tuple[np.ndarray, ...]]:
        h = np.tanh(self._preactivation(input, state[0]))
        return (h,), (h,)

    def _step_backward(self, input: np.ndarray, state: State, saved: tuple[np.ndarray, ...],
                       grad_state: State) -> tuple[np.ndarray, State]:
        (h,), (grad_h,) = saved, grad_state
        grad_input, grad_hx = self._preactivation_backward(input, state[0], grad_h * (1 - h * h))
        return grad_input, (grad_hx,)

    def forward(self, input: np.ndarray, hx: np.ndarray) -> np.ndarray:
        (h,), _ = self._step(input, (hx,))
        return h

    def backward(self, input: np.ndarray, hx: np.ndarray, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dL/dinput and dL/dhx; the step is recomputed, so no state is kept between forward and backward."""
        state = (hx,)
        grad_input, (grad_hx,) = self._step_backward(input, state, self._step(input, state)[1], (grad_output,))
        return grad_input, grad_hx


class LSTMCell(_Cell):
    """torch.nn.LSTMCell: gates i, f, g, o (rows in that order) from one affine map of input and hx; i, f, o are
    sigmoids and g a tanh; c' = f cx + i g and h' = o tanh(c')."""

    gates = 4

    def _step(self, input: np.ndarray, state: State) -> tuple[State, tuple[np.ndarray, ...]]:
        zi, zf, zg, zo = np.split(self._preactivation(input, state[0]), 4, axis=1)
        i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
        c = f * state[1] + i * g
        tanh_c = np.tanh(c)
        return (o * tanh_c, c), (i, f, g, o, tanh_c)

    def _step_backward(self, input: np.ndarray, state: State, saved: tuple[np.ndarray, ...],
                       grad_state: State) -> tuple[np.ndarray, State]:
        (hx, cx), (i, f, g, o, tanh_c), (grad_h, grad_c) = state, saved, grad_state
        # c' reaches the loss directly and through h' = o tanh(c').
        grad_c = grad_c + grad_h * o * (1 - tanh_c * tanh_c)
        grad_z = np.concatenate([grad_c * g * i * (1 - i), grad_c * cx * f * (1 - f), grad_c * i * (1 - g * g),
                                 grad_h * tanh_c * o * (1 - o)], axis=1)
        grad_input, grad_hx = self._preactivation_backward(input, hx, grad_z)
        return grad_input, (grad_hx, grad_c * f)

    def forward(self, input: np.ndarray, hx: np.ndarray, cx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        (h, c), _ = self._step(input, (hx, cx))
        return h, c

    def backward(self, input: np.ndarray, hx: np.ndarray, cx: np.ndarray, grad_h: np.ndarray,
                 grad_c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """dL/dinput, dL/dhx and dL/dcx; the step is recomputed, so no state is kept between forward and backward."""
        state = (hx, cx)
        grad_input, (grad_hx, grad_cx) = self._step_backward(input, state, self._step(input, state)[1], (grad_h, grad_c))
        return grad_input, grad_hx, grad_cx


class _Sequence(Module):
    """One layer of `cell_type` over a batch-first (N, T, D) input; the output is h after every step, (N, T, H).
    The parameters are the cell's own arrays, under torch's names for layer 0."""

    cell_type: type[_Cell]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell = self.cell_type(input_size, hidden_size, bias)
        self.weight_ih_l0, self.weight_hh_l0 = self.cell.weight_ih, self.cell.weight_hh
        self.bias_ih_l0, self.bias_hh_l0 = self.cell.bias_ih, self.cell.bias_hh

    def parameters(self) -> list[np.ndarray]:
        return self.cell.parameters()

    def grad_parameters(self) -> list[np.ndarray]:
        return self.cell.grad_parameters()

    def _run(self, input: np.ndarray, state: State) -> tuple[list[State], list[tuple[np.ndarray, ...]]]:
        """The state before every step and after the last (T + 1 of them), and every step's saved values."""
        states, saved = [state], []
        for t in range(input.shape[1]):
            state, values = self.cell._step(input[:, t], state)
            states.append(state)
            saved.append(values)
        return states, saved

    def _forward(self, input: np.ndarray, state: State) -> np.ndarray:
        states = self._run(input, state)[0]
        return np.stack([s[0] for s in states[1:]], axis=1)

    def _backward(self, input: np.ndarray, state: State, grad_output: np.ndarray) -> tuple[np.ndarray, ...]:
        """Backpropagation through time, from a recomputed forward: step t's h gets grad_output[:, t] plus what
        step t + 1 sends back; returns dL/dinput and dL/d(initial state)."""
        states, saved = self._run(input, state)
        grad_input = np.empty_like(input)
        grad_state = tuple(np.zeros_like(s) for s in state)
        for t in reversed(range(input.shape[1])):
            grad_state = (grad_state[0] + grad_output[:, t], *grad_state[1:])
            grad_input[:, t], grad_state = self.cell._step_backward(input[:, t], states[t], saved[t], grad_state)
        return grad_input, *grad_state


class RNN(_Sequence):
    """torch.nn.RNN(input_size, hidden_size, bias=bias, batch_first=True): one tanh layer."""

    cell_type = RNNCell

    def forward(self, input: np.ndarray, h0: np.ndarray) -> np.ndarray:
        return self._forward(input, (h0,))

    def backward(self, input: np.ndarray, h0: np.ndarray, grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad_input, grad_h0 = self._backward(input, (h0,), grad_output)
        return grad_input, grad_h0


class LSTM(_Sequence):
    """torch.nn.LSTM(input_size, hidden_size, bias=bias, batch_first=True): one layer."""

    cell_type = LSTMCell

    def forward(self, input: np.ndarray, h0: np.ndarray, c0: np.ndarray) -> np.ndarray:
        return self._forward(input, (h0, c0))

    def backward(self, input: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                 grad_output: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        grad_input, grad_h0, grad_c0 = self._backward(input, (h0, c0), grad_output)
        return grad_input, grad_h0, grad_c0
