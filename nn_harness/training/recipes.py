"""End to end, trusted side: the recipes and their targets, scoring, learning-curve plots.

The models are built and trained in the sandbox, from the implementation's own layers (nn_harness/sandbox/training.py);
what comes back is plain data, and the test set's accuracy is scored here, where the test labels are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from nn_harness.sandbox.training import MODEL_LABELS, MODEL_NEEDS, TrainResult

__all__ = ["MODEL_LABELS", "MODEL_NEEDS", "OVERFIT_RECIPE", "RECIPES", "Recipe", "TrainResult", "plot_curves",
           "recipe_for", "result_from"]


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
#   mlp subset: 6 epochs -> 0.936..0.945 (5 seeds)    cnn subset: 1 epoch -> 0.905..0.952, mean 0.930 (40 seeds)
#   mlp full:   5 epochs -> 0.9741, 0.9744 (2 seeds)  cnn full:   3 epochs -> 0.978..0.985 (8 seeds)
# Targets sit below the worst seed with margin (standard error of an accuracy: ~0.007 on 1000 test samples,
# ~0.0015 on 10000), yet above what a model that learns only partly reaches: the subset's CNN with its convolutions
# frozen (only its Linear learns) ends at 0.70..0.81 (6 seeds).
# The CNN's subset recipe (6 and 12 channels, one epoch in batches of 16; measured 2026-12-06) is the cheapest found
# that clears this. A Conv2d that loops over samples and channel pairs makes 5 times fewer calls training it than the
# CNN of 8 and 16 channels in 3 epochs of 32 (0.943..0.972 over 40 seeds), whose training was most of a course-bank
# homework's grading time. Two epochs of 32 (0.916..0.963) gain little at the worst seed for twice the calls. The
# recipe's own seed, 0, ends at 0.913..0.931 with its initial values perturbed by 1e-5 (12 runs: rounding's spread).
RECIPES: dict[tuple[str, str], Recipe] = {
    ("mlp", "subset"): Recipe(epochs=6, batch_size=64, lr=0.1, momentum=0.9, target=0.91),
    ("cnn", "subset"): Recipe(epochs=1, batch_size=16, lr=0.03, momentum=0.9, target=0.88),
    ("mlp", "full"): Recipe(epochs=5, batch_size=64, lr=0.02, momentum=0.9, target=0.97),
    ("cnn", "full"): Recipe(epochs=3, batch_size=64, lr=0.05, momentum=0.9, target=0.97),
}

# The "overfit 32 samples" gate: full-batch steps on 32 training samples.
OVERFIT_RECIPE = SimpleNamespace(n_samples=32, steps=150, lr=0.05, momentum=0.9)  # reference: ~20 steps


def recipe_for(model: str, data: Any) -> Recipe:
    """The recipe for model ("mlp"/"cnn") on `data` (an MnistData: "subset" if under 60,000 train samples)."""
    kind = "subset" if len(data.y_train) < 60000 else "full"
    return RECIPES[(model, kind)]


def result_from(data: dict, y_test: np.ndarray) -> TrainResult:
    """The TrainResult the sandbox sent as plain data, scored against the test labels."""
    return TrainResult(**data).scored(y_test)


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
