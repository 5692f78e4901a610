"""Run torch twins on the implementation's own numbers, in float64, and hand back NumPy arrays."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TwinResult:
    """What torch computed for one forward and one backward pass; a tuple entry per output or input, in order."""

    outputs: tuple[np.ndarray, ...]
    grad_outputs: tuple[np.ndarray, ...]  # the upstream gradients that were backpropagated
    grad_inputs: tuple[np.ndarray | None, ...]  # None for integer inputs (indices: they have no gradient)
    grad_parameters: dict[str, np.ndarray]  # torch's parameter names, in torch's order
    buffers: dict[str, np.ndarray]  # buffers (e.g. running statistics) after the forward pass

    # The first (for a layer of one input and one output, the only) of each.
    @property
    def output(self) -> np.ndarray:
        return self.outputs[0]

    @property
    def grad_output(self) -> np.ndarray:
        return self.grad_outputs[0]

    @property
    def grad_input(self) -> np.ndarray | None:
        return self.grad_inputs[0]


def _tensor(array: np.ndarray, *, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def load_parameters(twin: torch.nn.Module, values: Sequence[np.ndarray]) -> None:
    """Copy parameter values into the twin, in order; a count or shape mismatch is the caller's bug."""
    params = list(twin.parameters())
    if len(params) != len(values):
        raise ValueError(f"twin has {len(params)} parameters, {len(values)} values given")
    with torch.no_grad():
        for param, value in zip(params, values):
            param.copy_(_tensor(value))


def load_buffers(twin: torch.nn.Module, values: dict[str, np.ndarray]) -> None:
    """Set the twin's named buffers (e.g. BatchNorm's running statistics) to the given values."""
    with torch.no_grad():
        for name, value in values.items():
            twin.get_buffer(name).copy_(_tensor(value))


def run_layer(
    twin: torch.nn.Module,
    parameters: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    upstream: Callable[[tuple[tuple[int, ...], ...]], tuple[np.ndarray, ...]],
    *,
    training: bool,
    buffers: dict[str, np.ndarray] | None = None,
) -> TwinResult:
    """Forward `inputs` through the twin, then backpropagate `upstream(output shapes)`, the gradients w.r.t. its
    outputs (one, or a tuple: LSTMCell's h and c)."""
    twin = twin.double().train(training)
    twin.zero_grad(set_to_none=True)  # torch accumulates .grad: each run starts afresh
    load_parameters(twin, parameters)
    load_buffers(twin, buffers or {})
    # Integer inputs are indices (Embedding): torch takes them as they are, and differentiates nothing w.r.t. them.
    indices = [np.asarray(x).dtype.kind in "iu" for x in inputs]
    tensors = [torch.tensor(x) if index else _tensor(x, requires_grad=True) for x, index in zip(inputs, indices)]
    out = twin(*tensors)
    outs = out if isinstance(out, tuple) else (out,)
    grad_outputs = upstream(tuple(tuple(o.shape) for o in outs))
    torch.autograd.backward(outs, [_tensor(g) for g in grad_outputs])
    return TwinResult(
        outputs=tuple(o.detach().numpy() for o in outs),
        grad_outputs=tuple(grad_outputs),
        # An input no output depends on gets no .grad: its gradient is zero.
        grad_inputs=tuple(None if index else np.zeros(t.shape) if t.grad is None else t.grad.numpy()
                          for t, index in zip(tensors, indices)),
        grad_parameters={name: p.grad.numpy() for name, p in twin.named_parameters()},
        buffers={name: b.detach().numpy().copy() for name, b in twin.named_buffers() if b.is_floating_point()},
    )


def criterion_reference(twin: torch.nn.Module, x: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The loss and its gradient w.r.t. `x`, by torch autograd in float64."""
    inp = _tensor(x, requires_grad=True)
    target_t = torch.tensor(target) if target.dtype.kind in "iu" else _tensor(target)
    loss = twin(inp, target_t)
    loss.backward()
    return float(loss.item()), inp.grad.numpy()


def optimizer_reference(
    make: Callable[..., torch.optim.Optimizer],
    kwargs: dict,
    initial: Sequence[np.ndarray],
    gradients: Sequence[Sequence[np.ndarray]],
) -> list[list[np.ndarray]]:
    """Parameter values after each step of a torch optimizer fed the given gradient sequence."""
    params = [torch.nn.Parameter(_tensor(p)) for p in initial]
    optimizer = make(params, **kwargs)
    history = []
    for step_grads in gradients:
        for param, grad in zip(params, step_grads):
            param.grad = _tensor(grad)
        optimizer.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history
