"""Train the implementation's own layers on MNIST, in the sandbox: models, deterministic init, the loop, gates.

The trusted side (tests/test_end_to_end.py) calls the `*_gate` and `training_run` functions here through the
sandbox (nn_harness/run/session_sandbox.py `Submission.service("training")`): it sends the images and the training labels, and
gets back plain data, the test set's predicted classes among them; the test labels never come here, the trusted
side scores the predictions (nn_harness/training/recipes.py).

Everything here is written against the contract's names only (`nn.Sequential`, `nn.Linear`, ...,
`model.forward/backward/parameters/grad_parameters/train/eval`, `criterion.forward/backward`,
`optimizer.step/zero_grad`), so the same code drives any implementation of the contract (`import impl as nn`),
and `build_mlp(torch.nn)` builds the very same models in PyTorch for the benchmark.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nn_harness.sandbox.student import CheckFailure, student_frame

# ------------------------------------------------------------------------------------------------ errors, results
# The harness's own verdicts here are CheckFailures: the trusted side shows their message as it is (no traceback of
# this file), as it shows every other check's.


class TrainingTooSlow(CheckFailure):
    """Training would not finish within the check's time budget (raised early, from the first steps' speed)."""


class TrainingDiverged(CheckFailure):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    name: str
    epochs: int
    batch_size: int
    train_loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    train_accuracy: list[float] = field(default_factory=list)  # accuracy on the training batches during the epoch
    test_predictions: list[np.ndarray] = field(default_factory=list)  # classes after each epoch, model.eval()
    test_accuracy: list[float] = field(default_factory=list)  # scored by the side that holds the test labels
    epoch_time_s: list[float] = field(default_factory=list)  # training + evaluation time of each epoch
    wall_time_s: float = 0.0
    steps: int = 0
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) of every step

    def scored(self, y_test: np.ndarray) -> TrainResult:
        """test_accuracy from the predictions, given the test labels."""
        self.test_accuracy = [float(np.mean(p == y_test)) for p in self.test_predictions]
        return self

    @property
    def final_test_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    @property
    def time_per_epoch_s(self) -> float:
        return self.wall_time_s / max(1, len(self.test_predictions))

    def summary(self) -> str:
        accs = ", ".join(f"{a:.4f}" for a in self.test_accuracy)
        return (
            f"{self.name}: test accuracy per epoch [{accs}], train loss per epoch "
            f"[{', '.join(f'{v:.4f}' for v in self.train_loss)}], {self.steps} steps of batch {self.batch_size}, "
            f"{self.wall_time_s:.1f} s ({self.time_per_epoch_s:.1f} s/epoch)"
        )


@dataclass
class GateResult:
    """Outcome of a staged gate: `assert result.ok, result.message`."""

    name: str
    ok: bool
    message: str
    value: float  # the measured quantity (loss, accuracy)
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"[{'ok' if self.ok else 'FAIL'}] {self.name}: {self.message}"


# -------------------------------------------------------------------------------------------------------- data


def batches(
    x: np.ndarray, y: np.ndarray, batch_size: int, *, rng: np.random.Generator | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (xb, yb) covering every sample once, the last batch possibly smaller; shuffled when rng is given."""
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} samples, y has {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n) if rng is not None else None
    for start in range(0, n, batch_size):
        if order is None:
            yield x[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            yield x[idx], y[idx]


# ------------------------------------------------------------------------------------------------------ models


def build_mlp(nn: Any) -> Any:
    """Flatten, Linear(784, 128), ReLU, Linear(128, 10)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def build_cnn(nn: Any) -> Any:
    """Two 3x3 conv blocks (6 and 12 channels, padding 1, ReLU, 2x2 max-pool), then Linear(12*7*7, 10). Small on
    purpose: a course's Conv2d that loops over samples and channel pairs (practical_dl's scipy.signal.correlate
    template) must train it within the check's time budget (one conv call per sample and channel pair: 78 here)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 12, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(12 * 7 * 7, 10),
    )


MODEL_BUILDERS = {"mlp": build_mlp, "cnn": build_cnn}
# The contract names each model is built and trained with.
MODEL_NEEDS = {"mlp": ("Sequential", "Flatten", "Linear", "ReLU", "CrossEntropyLoss"),
               "cnn": ("Sequential", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "CrossEntropyLoss")}
MODEL_LABELS = {"mlp": "Linear-model (MLP)", "cnn": "Conv2d-model (CNN)"}


def initial_values(shapes: list[tuple[int, ...]], seed: int) -> list[np.ndarray]:
    """torch-style initial values for parameters of these shapes, in order, from np.random.default_rng(seed).

    uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = prod(shape[1:]) for a weight (ndim >= 2); a bias uses the
    fan_in of the weight just before it. float64, so the same init can be given to another framework's model.
    """
    rng = np.random.default_rng(seed)
    values, fan_in = [], None
    for i, shape in enumerate(shapes):
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
        elif fan_in is None:
            raise CheckFailure(
                f"parameter {i} has shape {shape} but no weight (ndim >= 2) comes before it; "
                "model.parameters() should list each layer's weight before its bias"
            )
        bound = 1.0 / math.sqrt(fan_in)
        values.append(rng.uniform(-bound, bound, size=shape))
    return values


def init_parameters(model: Any, seed: int) -> list[np.ndarray]:
    """Overwrite every parameter of a NumPy model in place with `initial_values`; returns the values written."""
    params = list(model.parameters())
    values = initial_values([tuple(p.shape) for p in params], seed)
    for p, v in zip(params, values):
        p[...] = v.astype(p.dtype)
    # parameters() must hand out the arrays themselves, else the optimizer's updates would be lost too.
    for i, (p, v) in enumerate(zip(model.parameters(), values)):
        if not np.allclose(p, v, atol=1e-6):
            raise CheckFailure(
                f"model.parameters()[{i}] (shape {tuple(p.shape)}) did not keep a value written in place: "
                "parameters() must return the parameter arrays themselves, not copies"
            )
    return values


# --------------------------------------------------------------------------------------------------- optimizer


class HarnessSGD:
    """torch.optim.SGD semantics on model.parameters()/grad_parameters(), for implementations without an SGD."""

    def __init__(self, module: Any, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.module, self.lr, self.momentum, self.weight_decay = module, lr, momentum, weight_decay
        self._buffers: list[np.ndarray | None] | None = None

    def zero_grad(self) -> None:
        for g in self.module.grad_parameters():
            g[...] = 0

    def step(self) -> None:
        params, grads = list(self.module.parameters()), list(self.module.grad_parameters())
        if self._buffers is None:
            self._buffers = [None] * len(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            if np.shape(g) != np.shape(p):
                raise CheckFailure(f"grad_parameters()[{i}] has shape {np.shape(g)} but parameters()[{i}] has shape "
                                     f"{np.shape(p)}: a parameter gradient must have its parameter's shape")
            d = g + self.weight_decay * p if self.weight_decay else g
            if self.momentum:
                buf = self._buffers[i]
                buf = np.array(d, copy=True) if buf is None else buf * self.momentum + d
                self._buffers[i] = buf
                d = buf
            p -= self.lr * d


def make_optimizer(nn: Any, model: Any, *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> Any:
    """The implementation's SGD(module, lr, momentum, weight_decay) if it has one, else HarnessSGD."""
    sgd = getattr(nn, "SGD", None)
    if sgd is None:
        return HarnessSGD(model, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return sgd(model, lr=lr, momentum=momentum, weight_decay=weight_decay)


# ---------------------------------------------------------------------------------------------------- the loop


def _loss_value(loss: Any, step: int, epoch: int) -> float:
    try:
        value = float(np.asarray(loss).reshape(()))
    except (TypeError, ValueError):
        raise CheckFailure(f"criterion.forward returned {type(loss).__name__} {loss!r:.100}, expected a float") from None
    if not math.isfinite(value):
        raise TrainingDiverged(f"loss became {value} at step {step} (epoch {epoch})")
    return value


def predict(model: Any, x: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
    """The classes model.forward predicts in eval mode, in batches."""
    model.eval()
    return np.concatenate([np.asarray(model.forward(x[i:i + batch_size])).argmax(axis=1)
                           for i in range(0, len(x), batch_size)]).astype(np.int64)


OVERRUN = 1.5  # the factor over the budget a projection must show to stop a run early


def train(
    model: Any,
    criterion: Any,
    optimizer: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    time_budget_s: float | None = None,
    name: str = "model",
    eval_batch_size: int = 1000,
) -> TrainResult:
    """Mini-batch training on x_train/y_train; the classes predicted for x_test after each epoch.

    Raises TrainingTooSlow as soon as the measured speed says the run would exceed time_budget_s by OVERRUN (checked
    from the third step on), or once the budget is spent; TrainingDiverged on a NaN/inf loss.
    """
    x_train = np.ascontiguousarray(x_train, dtype=np.float32)
    y_train = np.asarray(y_train, dtype=np.int64)
    x_test = np.ascontiguousarray(x_test, dtype=np.float32)
    n, n_test = len(y_train), len(x_test)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    rng = np.random.default_rng(seed)
    result = TrainResult(name=name, epochs=epochs, batch_size=batch_size)
    t0 = time.perf_counter()
    step_times: list[float] = []

    def too_slow(now: float, steps_done: int) -> None:
        if time_budget_s is None:
            return
        elapsed = now - t0
        if steps_done > 20 and steps_done % 25 and elapsed <= time_budget_s:
            return  # after the first steps, re-estimate every 25 steps (and whenever the budget is spent)
        if steps_done >= 3:
            per_step = float(np.median(step_times[1:][-50:]))  # the first step pays for warm-up
        else:
            per_step = step_times[0] if step_times else 0.0
        remaining = total_steps - steps_done
        # evaluation: forward only, roughly a third of a training step per sample
        eval_left = (epochs - len(result.test_predictions)) * n_test * per_step / batch_size / 3
        projected = elapsed + remaining * per_step + eval_left
        # A projection from a few steps on a shared machine is noisy: it stops the run early only when clearly over
        # (a run that would end just past the budget goes on, and stops when the budget is spent).
        if elapsed > time_budget_s or (steps_done >= 3 and projected > OVERRUN * time_budget_s) \
                or per_step > time_budget_s:
            one_epoch = steps_per_epoch * per_step + n_test * per_step / batch_size / 3
            raise TrainingTooSlow(
                f"{name} training step took {per_step:.3g} s per batch of {batch_size}; at this speed one epoch of "
                f"{n} samples needs {one_epoch:.0f} s and {epochs} epoch(s) about {projected:.0f} s in all, "
                f"over this check's budget of {time_budget_s:.0f} s (stopped after {steps_done} steps, "
                f"{elapsed:.1f} s)"
            )

    for epoch in range(1, epochs + 1):
        te = time.perf_counter()
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for xb, yb in batches(x_train, y_train, batch_size, rng=rng):
            ts = time.perf_counter()
            step = result.steps + 1
            optimizer.zero_grad()
            out = model.forward(xb)
            loss = _loss_value(criterion.forward(out, yb), step, epoch)
            grad = criterion.backward(out, yb)
            model.backward(xb, grad)
            optimizer.step()
            now = time.perf_counter()
            step_times.append(now - ts)
            result.steps = step
            result.curve.append((step, loss))
            loss_sum += loss * len(yb)
            correct += int((np.asarray(out).argmax(axis=1) == yb).sum())
            seen += len(yb)
            too_slow(now, step)
        result.train_loss.append(loss_sum / seen)
        result.train_accuracy.append(correct / seen)
        result.test_predictions.append(predict(model, x_test, batch_size=eval_batch_size))
        result.epoch_time_s.append(time.perf_counter() - te)
        if epoch < epochs:  # the evaluation counts too; after the last epoch the work is done
            too_slow(time.perf_counter(), result.steps)
    result.wall_time_s = time.perf_counter() - t0
    return result


# ------------------------------------------------------------------------------------------------ staged gates


def initial_loss(model: Any, criterion: Any, x: np.ndarray, y: np.ndarray, *, tolerance: float = 0.3) -> GateResult:
    """A freshly initialised 10-class model should give a loss near ln(10) = 2.303 (near-uniform predictions)."""
    model.eval()
    out = model.forward(np.ascontiguousarray(x, dtype=np.float32))
    loss = float(np.asarray(criterion.forward(out, np.asarray(y, dtype=np.int64))).reshape(()))
    expected = math.log(10)
    ok = math.isfinite(loss) and abs(loss - expected) <= tolerance
    msg = f"initial loss {loss:.4f} on {len(y)} samples, expected ln(10) = {expected:.4f} +- {tolerance}" + (
        "" if ok else " (check CrossEntropyLoss: log-softmax over axis 1, mean over the batch; and the init)"
    )
    return GateResult("initial loss", ok, msg, loss, {"expected": expected, "tolerance": tolerance})


def overfit_small(model: Any, criterion: Any, optimizer: Any, x32: np.ndarray, y32: np.ndarray, steps: int = 300) -> GateResult:
    """Full-batch steps on a few samples (32): a working model/loss/backward/optimizer reaches 100% train accuracy."""
    x32 = np.ascontiguousarray(x32, dtype=np.float32)
    y32 = np.asarray(y32, dtype=np.int64)
    model.train()
    losses, reached, acc = [], None, 0.0
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        out = model.forward(x32)
        loss = _loss_value(criterion.forward(out, y32), step, 1)
        losses.append(loss)
        acc = float((np.asarray(out).argmax(axis=1) == y32).mean())
        if acc == 1.0:
            reached = step - 1  # accuracy of the parameters after step-1 updates
            break
        model.backward(x32, criterion.backward(out, y32))
        optimizer.step()
    if reached is None:
        model.eval()
        acc = float((np.asarray(model.forward(x32)).argmax(axis=1) == y32).mean())
        if acc == 1.0:
            reached = steps
    ok = reached is not None
    first, last = losses[0], losses[-1]
    if ok:
        msg = f"reached 100% train accuracy on {len(y32)} samples after {reached} steps (loss {first:.3f} -> {last:.3f})"
    else:
        msg = (
            f"did not reach 100% train accuracy on {len(y32)} samples in {steps} steps: accuracy {acc:.3f}, "
            f"loss {first:.3f} -> {last:.3f}"
            + (" (the loss did not go down: check backward and the optimizer)" if last >= first - 1e-3 else "")
        )
    return GateResult("overfit small batch", ok, msg, acc, {"steps_to_100": reached, "losses": losses})


# ------------------------------------------------------------------------------- what the trusted side calls here


class _Traced:
    """`nn` as the model builders see it: its Sequential gets children whose forward and backward note each call
    (the layer, the shapes in and out), so an error inside a layer reads like a layer's failure: which layer, which
    call, what went in, and what the layers before it in this pass returned."""

    def __init__(self, nn: Any) -> None:
        self.nn, self.calls = nn, []

    def __getattr__(self, name: str) -> Any:
        return self.Sequential if name == "Sequential" else getattr(self.nn, name)

    def Sequential(self, *children: Any) -> Any:  # noqa: N802 - the contract's name
        for number, child in enumerate(children, start=1):
            label = f"{type(child).__name__} (layer {number} of {len(children)} in the model's Sequential)"
            for name, arguments in (("forward", ("input",)), ("backward", ("input", "grad_output"))):
                try:  # a layer that takes no attribute (slots, a strict __setattr__) runs as it is, untraced
                    setattr(child, name, self._traced(getattr(child, name), f"{label}.{name}", arguments,
                                                      first=number == 1 and name == "forward"))
                except (AttributeError, TypeError):
                    continue
        return self.nn.Sequential(*children)

    def _traced(self, method: Any, what: str, arguments: tuple[str, ...], *, first: bool) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if first:
                self.calls.clear()  # a new pass through the model
            given = ", ".join(f"{name} {_shape(value)}" for name, value in zip(arguments, args))
            try:
                out = method(*args, **kwargs)
            except CheckFailure:
                raise
            except Exception as error:  # noqa: BLE001 - the submission's error, told as its layer's failure
                frame = student_frame(error.__traceback__)
                before = "".join(f"\n    {line}" for line in self.calls)
                raise CheckFailure(f"{what} raised {type(error).__name__}: {error}\n"
                                   f"  at {frame.filename}:{frame.lineno}: {frame.line}\n  it was given {given}"
                                   + (f"\n  the calls before it in this pass:{before}" if before else "")) from None
            self.calls.append(f"{what}: {given} -> {_shape(out)}")
            return out

        return call


def _shape(value: Any) -> str:
    return f"{value.shape} {value.dtype}" if isinstance(value, np.ndarray) else type(value).__name__


def _model(nn: Any, model: str, seed: int) -> Any:
    net = MODEL_BUILDERS[model](_Traced(nn))
    init_parameters(net, seed)
    return net


def initial_loss_gate(nn: Any, model: str, seed: int, x: np.ndarray, y: np.ndarray) -> dict:
    gate = initial_loss(_model(nn, model, seed), nn.CrossEntropyLoss(), x, y)
    return {"ok": gate.ok, "message": str(gate)}


def overfit_gate(nn: Any, model: str, seed: int, x: np.ndarray, y: np.ndarray, lr: float, momentum: float,
                 steps: int) -> dict:
    net = _model(nn, model, seed)
    gate = overfit_small(net, nn.CrossEntropyLoss(), make_optimizer(nn, net, lr=lr, momentum=momentum), x, y, steps)
    return {"ok": gate.ok, "message": str(gate)}


def training_run(nn: Any, model: str, seed: int, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                 *, epochs: int, batch_size: int, lr: float, momentum: float, train_seed: int,
                 time_budget_s: float) -> dict:
    """train() on a fresh model; its TrainResult as plain data (test_predictions for the trusted side to score)."""
    net = _model(nn, model, seed)
    result = train(net, nn.CrossEntropyLoss(), make_optimizer(nn, net, lr=lr, momentum=momentum), x_train, y_train,
                   x_test, epochs=epochs, batch_size=batch_size, seed=train_seed, time_budget_s=time_budget_s,
                   name=MODEL_LABELS[model])
    return {k: v for k, v in vars(result).items() if k != "test_accuracy"}
