"""Optimisers with torch.optim's exact update rules, updating parameters in place."""

from __future__ import annotations

import numpy as np

from .module import Module


class Optimizer:
    """Holds a module's parameters and gradient buffers, read once at construction."""

    def __init__(self, module: Module, lr: float) -> None:
        self.module = module
        self.lr = lr
        self.params = module.parameters()
        self.grads = module.grad_parameters()

    def zero_grad(self) -> None:
        """Zero the module's gradient buffers."""
        self.module.zero_grad()

    def step(self) -> None:
        """Update every parameter once from its current gradient."""
        raise NotImplementedError


class SGD(Optimizer):
    """torch.optim.SGD with momentum (dampening 0, no Nesterov) and L2 weight decay."""

    def __init__(self, module: Module, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(module, lr)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.buffers: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for k, (p, g) in enumerate(zip(self.params, self.grads)):
            d = g + self.weight_decay * p if self.weight_decay else g
            if self.momentum:
                buf = self.buffers[k]
                if buf is None:
                    # torch seeds the buffer with the first step's gradient itself, not (1 - dampening) * it.
                    buf = self.buffers[k] = d.copy()
                else:
                    buf *= self.momentum
                    buf += d
                d = buf
            p -= self.lr * d


class Adam(Optimizer):
    """torch.optim.Adam (no AMSGrad, L2 weight decay added to the gradient)."""

    def __init__(
        self,
        module: Module,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(module, lr)
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.t = 0
        self.exp_avg = [np.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [np.zeros_like(p) for p in self.params]

    def step(self) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        # Same operation order as torch's single-tensor Adam, so results agree to the last bits.
        step_size = self.lr / (1 - beta1**self.t)
        bias_correction2_sqrt = (1 - beta2**self.t) ** 0.5
        for p, g, m, v in zip(self.params, self.grads, self.exp_avg, self.exp_avg_sq):
            if self.weight_decay:
                g = g + self.weight_decay * p
            m += (1 - beta1) * (g - m)
            v *= beta2
            v += (1 - beta2) * g * g
            p -= step_size * m / (np.sqrt(v) / bias_correction2_sqrt + self.eps)
