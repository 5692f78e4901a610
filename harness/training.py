"""Train the implementation's own layers on MNIST: models, deterministic init, the loop, staged gates, plots.

Everything here is written against the contract's names only (`nn.Sequential`, `nn.Linear`, ...,
`model.forward/backward/parameters/grad_parameters/train/eval`, `criterion.forward/backward`,
`optimizer.step/zero_grad`), so the same code drives any implementation of the contract (`import impl as nn`),
and `build_mlp(torch.nn)` builds the very same models in PyTorch for the benchmark.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

__all__ = [
    "Recipe",
    "RECIPES",
    "OVERFIT_RECIPE",
    "recipe_for",
    "TrainResult",
    "TrainingTooSlow",
    "TrainingDiverged",
    "GateResult",
    "batches",
    "build_mlp",
    "build_cnn",
    "MODEL_BUILDERS",
    "MODEL_NEEDS",
    "init_parameters",
    "HarnessSGD",
    "make_optimizer",
    "train",
    "evaluate",
    "initial_loss",
    "overfit_small",
    "plot_curves",
    "progress_default",
]


# ---------------------------------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class Recipe:
    """Hyperparameters for one (model, dataset) pair, and the test accuracy a correct implementation clears."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float
    target: float  # minimum final test accuracy
    weight_decay: float = 0.0
    seed: int = 0


# Measured with plain torch (torch.nn + torch.optim.SGD, float32, same init and batches as the harness; the
# implementation reproduces these curves). Subset = embedded 4000/1000, full = official 60000/10000; constant lr.
#   mlp subset: 6 epochs -> 0.936..0.945 (5 seeds)    cnn subset: 3 epochs -> 0.951..0.970 (5 seeds)
#   mlp full:   5 epochs -> 0.9741, 0.9744 (2 seeds)  cnn full:   2 epochs -> 0.9852, 0.9857 (2 seeds)
# Targets sit below the worst seed with margin (standard error of an accuracy: ~0.007 on 1000 test samples,
# ~0.0015 on 10000), yet above what a model that learns only partly reaches.
RECIPES: dict[tuple[str, str], Recipe] = {
    ("mlp", "subset"): Recipe(epochs=6, batch_size=64, lr=0.1, momentum=0.9, target=0.91),
    ("cnn", "subset"): Recipe(epochs=3, batch_size=32, lr=0.05, momentum=0.9, target=0.93),
    ("mlp", "full"): Recipe(epochs=5, batch_size=64, lr=0.02, momentum=0.9, target=0.97),
    ("cnn", "full"): Recipe(epochs=2, batch_size=64, lr=0.05, momentum=0.9, target=0.98),
}

# The "overfit 32 samples" gate: full-batch steps on 32 training samples.
OVERFIT_RECIPE = SimpleNamespace(n_samples=32, steps=150, lr=0.05, momentum=0.9)  # reference: ~20 steps


def recipe_for(model: str, data: Any) -> Recipe:
    """The recipe for model ("mlp"/"cnn") on `data` (an MnistData: "subset" if under 60,000 train samples)."""
    kind = "subset" if len(data.y_train) < 60000 else "full"
    return RECIPES[(model, kind)]


# ------------------------------------------------------------------------------------------------ errors, results


class TrainingTooSlow(AssertionError):
    """Training would not finish within the check's time budget (raised early, from the first steps' speed)."""


class TrainingDiverged(AssertionError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    name: str
    epochs: int
    batch_size: int
    train_loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    train_accuracy: list[float] = field(default_factory=list)  # accuracy on the training batches during the epoch
    test_accuracy: list[float] = field(default_factory=list)  # after each epoch, model.eval()
    epoch_time_s: list[float] = field(default_factory=list)  # training + evaluation time of each epoch
    wall_time_s: float = 0.0
    steps: int = 0
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, loss) of every step

    @property
    def final_test_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    @property
    def time_per_epoch_s(self) -> float:
        return self.wall_time_s / max(1, len(self.test_accuracy))

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
    """Two 3x3 conv blocks (16 and 32 channels, padding 1, ReLU, 2x2 max-pool), then Linear(32*7*7, 10)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )


MODEL_BUILDERS = {"mlp": build_mlp, "cnn": build_cnn}
# The contract names each model is built and trained with.
MODEL_NEEDS = {"mlp": ("Sequential", "Flatten", "Linear", "ReLU", "CrossEntropyLoss"),
               "cnn": ("Sequential", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "CrossEntropyLoss")}
MODEL_LABELS = {"mlp": "Linear-model (MLP)", "cnn": "Conv2d-model (CNN)"}


def init_parameters(model: Any, seed: int) -> list[np.ndarray]:
    """Overwrite every parameter in place with torch-style init from np.random.default_rng(seed).

    uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = prod(shape[1:]) for a weight (ndim >= 2); a bias uses the
    fan_in of the weight just before it. Works for NumPy arrays (`p[...] = v`) and torch tensors (`copy_`).
    Returns the values written (float64), so the same init can be given to another framework's model.
    """
    rng = np.random.default_rng(seed)
    params = list(model.parameters())
    values, fan_in = [], None
    for i, p in enumerate(params):
        shape = tuple(p.shape)
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
        elif fan_in is None:
            raise AssertionError(
                f"parameter {i} has shape {shape} but no weight (ndim >= 2) comes before it; "
                "model.parameters() should list each layer's weight before its bias"
            )
        bound = 1.0 / math.sqrt(fan_in)
        v = rng.uniform(-bound, bound, size=shape)
        _assign(p, v)
        values.append(v)
    # parameters() must hand out the arrays themselves, else the optimizer's updates would be lost too.
    for i, (p, v) in enumerate(zip(model.parameters(), values)):
        if not np.allclose(_to_numpy(p), v, atol=1e-6):
            raise AssertionError(
                f"model.parameters()[{i}] (shape {tuple(p.shape)}) did not keep a value written in place: "
                "parameters() must return the parameter arrays themselves, not copies"
            )
    return values


def _assign(p: Any, v: np.ndarray) -> None:
    if isinstance(p, np.ndarray):
        p[...] = v.astype(p.dtype)
    else:  # torch tensor
        import torch

        with torch.no_grad():
            p.copy_(torch.from_numpy(v).to(p.dtype))


def _to_numpy(p: Any) -> np.ndarray:
    if isinstance(p, np.ndarray):
        return p
    return p.detach().cpu().numpy()


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
                raise AssertionError(f"grad_parameters()[{i}] has shape {np.shape(g)} but parameters()[{i}] has shape "
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


def progress_default() -> bool:
    """Show the progress line only for a person at a terminal (not under CI or captured output)."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def _loss_value(loss: Any, step: int, epoch: int) -> float:
    try:
        value = float(np.asarray(loss).reshape(()))
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"criterion.forward returned {type(loss).__name__} {loss!r}, expected a float") from exc
    if not math.isfinite(value):
        raise TrainingDiverged(f"loss became {value} at step {step} (epoch {epoch})")
    return value


def evaluate(model: Any, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1000) -> float:
    """Accuracy of model.forward in eval mode, in batches."""
    model.eval()
    correct = 0
    for xb, yb in batches(x, y, batch_size):
        out = np.asarray(model.forward(xb))
        correct += int((out.argmax(axis=1) == yb).sum())
    return correct / len(y)


def train(
    model: Any,
    criterion: Any,
    optimizer: Any,
    data: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    time_budget_s: float | None = None,
    progress: bool = False,
    name: str = "model",
    eval_batch_size: int = 1000,
) -> TrainResult:
    """Mini-batch training on data.x_train/y_train, test accuracy after each epoch.

    Raises TrainingTooSlow as soon as the measured speed says the run would exceed time_budget_s (checked from
    the third step on, and whenever the budget is already spent), TrainingDiverged on a NaN/inf loss.
    """
    x_train = np.ascontiguousarray(data.x_train, dtype=np.float32)
    y_train = np.asarray(data.y_train, dtype=np.int64)
    x_test = np.ascontiguousarray(data.x_test, dtype=np.float32)
    y_test = np.asarray(data.y_test, dtype=np.int64)
    n, n_test = len(y_train), len(y_test)
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    rng = np.random.default_rng(seed)
    result = TrainResult(name=name, epochs=epochs, batch_size=batch_size)
    t0 = time.perf_counter()
    step_times: list[float] = []
    last_draw = 0.0

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
        eval_left = (epochs - len(result.test_accuracy)) * n_test * per_step / batch_size / 3
        projected = elapsed + remaining * per_step + eval_left
        if elapsed > time_budget_s or (steps_done >= 3 and projected > time_budget_s) or per_step > time_budget_s:
            one_epoch = steps_per_epoch * per_step + n_test * per_step / batch_size / 3
            raise TrainingTooSlow(
                f"{name} training step took {per_step:.3g} s per batch of {batch_size}; at this speed one epoch of "
                f"{n} samples needs {one_epoch:.0f} s and {epochs} epoch(s) about {projected:.0f} s in all, "
                f"over this check's budget of {time_budget_s:.0f} s (stopped after {steps_done} steps, "
                f"{elapsed:.1f} s)"
            )

    try:
        for epoch in range(1, epochs + 1):
            te = time.perf_counter()
            model.train()
            loss_sum, correct, seen = 0.0, 0, 0
            for b, (xb, yb) in enumerate(batches(x_train, y_train, batch_size, rng=rng), start=1):
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
                if progress and (now - last_draw > 0.2 or b == steps_per_epoch):
                    last_draw = now
                    sys.stderr.write(
                        f"\r{name}: epoch {epoch}/{epochs} batch {b}/{steps_per_epoch} loss {loss_sum / seen:.4f} "
                        f"train acc {correct / seen:.4f} elapsed {now - t0:.1f}s   "
                    )
                    sys.stderr.flush()
            result.train_loss.append(loss_sum / seen)
            result.train_accuracy.append(correct / seen)
            acc = evaluate(model, x_test, y_test, batch_size=eval_batch_size)
            result.test_accuracy.append(acc)
            result.epoch_time_s.append(time.perf_counter() - te)
            if progress:
                sys.stderr.write(
                    f"\r{name}: epoch {epoch}/{epochs} loss {result.train_loss[-1]:.4f} "
                    f"train acc {result.train_accuracy[-1]:.4f} test acc {acc:.4f} "
                    f"elapsed {time.perf_counter() - t0:.1f}s" + " " * 20 + "\n"
                )
                sys.stderr.flush()
            if epoch < epochs:  # the evaluation counts too; after the last epoch the work is done
                too_slow(time.perf_counter(), result.steps)
    finally:
        if progress:
            sys.stderr.write("\n" if result.steps and len(result.test_accuracy) < epochs else "")
            sys.stderr.flush()
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


# ---------------------------------------------------------------------------------------------------------- plot


def plot_curves(results: dict[str, TrainResult], path: str | os.PathLike) -> None:
    """Learning curves PNG: training loss per step (left, with a moving average) and test accuracy per epoch."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for label, res in results.items():
        if not res.curve:
            continue
        steps, losses = np.array(res.curve, dtype=float).T
        (line,) = ax_loss.plot(steps, losses, alpha=0.25, linewidth=0.6)
        k = max(1, min(50, len(losses) // 20))
        if k > 1:
            smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
            ax_loss.plot(steps[k - 1 :], smooth, color=line.get_color(), label=label)
        else:
            line.set_label(label)
        epochs = np.arange(1, len(res.test_accuracy) + 1)
        ax_acc.plot(epochs, res.test_accuracy, marker="o", color=line.get_color(), label=label)
    ax_loss.set(xlabel="step", ylabel="training loss", title="Training loss per step", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy per epoch")
    ax_acc.xaxis.get_major_locator().set_params(integer=True)
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=110)
