"""Recurrent layers written the way a course's student writes them (a correct variant of impl/recurrent.py).

cs231n-style step functions that return a cache; forward keeps the latest forward's caches on `self` and backward
uses them (nothing is recomputed); the sequences loop over time; the LSTM slices its four gates apart and uses the
naive sigmoid 1 / (1 + exp(-x)), which overflows with a RuntimeWarning on saturating inputs but gives the right
values. Parameters stay float64 and are cast to the input's dtype, so float32 in gives float32 out.
"""

# ruff: noqa: N803, N806 - the course's names (Wx, dWh, N, T, H), as students write them

from __future__ import annotations

import numpy as np

from .module import Module, uniform_init


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """Wx (H, D), Wh (H, H) as torch stores them; b is b_ih + b_hh (or None)."""
    a = x @ Wx.T + prev_h @ Wh.T
    if b is not None:
        a = a + b
    next_h = np.tanh(a)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    dx = da @ Wx
    dprev_h = da @ Wh
    dWx = da.T @ x
    dWh = da.T @ prev_h
    db = np.sum(da, axis=0)
    return dx, dprev_h, dWx, dWh, db


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx.T + prev_h @ Wh.T
    if b is not None:
        a = a + b
    ai = a[:, 0:H]
    af = a[:, H:2 * H]
    ag = a[:, 2 * H:3 * H]
    ao = a[:, 3 * H:4 * H]
    i = sigmoid(ai)
    f = sigmoid(af)
    g = np.tanh(ag)
    o = sigmoid(ao)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
    do = dnext_h * tanh_c
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f
    dai = di * i * (1 - i)
    daf = df * f * (1 - f)
    dag = dg * (1 - g ** 2)
    dao = do * o * (1 - o)
    da = np.hstack((dai, daf, dag, dao))
    dx = da @ Wx
    dprev_h = da @ Wh
    dWx = da.T @ x
    dWh = da.T @ prev_h
    db = np.sum(da, axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


class _Recurrent(Module):
    """The four parameters in torch's order; `suffix` is "" for a cell and "_l0" for a sequence layer."""

    gates = 1
    suffix = ""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        G = self.gates * hidden_size
        setattr(self, "weight_ih" + self.suffix, uniform_init((G, input_size), hidden_size))
        setattr(self, "weight_hh" + self.suffix, uniform_init((G, hidden_size), hidden_size))
        params = [getattr(self, "weight_ih" + self.suffix), getattr(self, "weight_hh" + self.suffix)]
        if bias:
            setattr(self, "bias_ih" + self.suffix, uniform_init((G,), hidden_size))
            setattr(self, "bias_hh" + self.suffix, uniform_init((G,), hidden_size))
            params += [getattr(self, "bias_ih" + self.suffix), getattr(self, "bias_hh" + self.suffix)]
        else:
            setattr(self, "bias_ih" + self.suffix, None)
            setattr(self, "bias_hh" + self.suffix, None)
        self._register(*params)
        self.cache = None

    def _weights(self, dtype):
        """The parameters in the input's dtype; the two biases summed."""
        Wx = self._params[0].astype(dtype)
        Wh = self._params[1].astype(dtype)
        b = (self._params[2] + self._params[3]).astype(dtype) if self.bias else None
        return Wx, Wh, b

    def _accumulate(self, dWx, dWh, db):
        self._grads[0] += dWx
        self._grads[1] += dWh
        if self.bias:
            self._grads[2] += db
            self._grads[3] += db


class RNNCell(_Recurrent):
    def forward(self, input, hx):
        h, self.cache = rnn_step_forward(input, hx, *self._weights(input.dtype))
        return h

    def backward(self, input, hx, grad_output):
        dx, dh, dWx, dWh, db = rnn_step_backward(grad_output, self.cache)
        self._accumulate(dWx, dWh, db)
        return dx, dh


class LSTMCell(_Recurrent):
    gates = 4

    def forward(self, input, hx, cx):
        h, c, self.cache = lstm_step_forward(input, hx, cx, *self._weights(input.dtype))
        return h, c

    def backward(self, input, hx, cx, grad_h, grad_c):
        dx, dh, dc, dWx, dWh, db = lstm_step_backward(grad_h, grad_c, self.cache)
        self._accumulate(dWx, dWh, db)
        return dx, dh, dc


class RNN(_Recurrent):
    suffix = "_l0"

    def forward(self, input, h0):
        N, T, _ = input.shape
        Wx, Wh, b = self._weights(input.dtype)
        h = np.zeros((N, T, self.hidden_size), dtype=input.dtype)
        self.cache = []
        prev_h = h0
        for t in range(T):
            prev_h, step_cache = rnn_step_forward(input[:, t, :], prev_h, Wx, Wh, b)
            h[:, t, :] = prev_h
            self.cache.append(step_cache)
        return h

    def backward(self, input, h0, grad_output):
        N, T, _ = input.shape
        dx = np.zeros_like(input)
        dWx = np.zeros_like(self._grads[0])
        dWh = np.zeros_like(self._grads[1])
        db = np.zeros(self.hidden_size)
        dprev_h = np.zeros_like(h0)
        for t in reversed(range(T)):
            dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(grad_output[:, t, :] + dprev_h,
                                                                        self.cache[t])
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self._accumulate(dWx, dWh, db)
        return dx, dprev_h


class LSTM(_Recurrent):
    gates = 4
    suffix = "_l0"

    def forward(self, input, h0, c0):
        N, T, _ = input.shape
        Wx, Wh, b = self._weights(input.dtype)
        h = np.zeros((N, T, self.hidden_size), dtype=input.dtype)
        self.cache = []
        prev_h, prev_c = h0, c0
        for t in range(T):
            prev_h, prev_c, step_cache = lstm_step_forward(input[:, t, :], prev_h, prev_c, Wx, Wh, b)
            h[:, t, :] = prev_h
            self.cache.append(step_cache)
        return h

    def backward(self, input, h0, c0, grad_output):
        N, T, _ = input.shape
        dx = np.zeros_like(input)
        dWx = np.zeros_like(self._grads[0])
        dWh = np.zeros_like(self._grads[1])
        db = np.zeros(4 * self.hidden_size)
        dprev_h = np.zeros_like(h0)
        dprev_c = np.zeros_like(c0)  # the final cell state is not an output: no gradient flows into it
        for t in reversed(range(T)):
            dx[:, t, :], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(grad_output[:, t, :] + dprev_h,
                                                                                  dprev_c, self.cache[t])
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self._accumulate(dWx, dWh, db)
        return dx, dprev_h, dprev_c
