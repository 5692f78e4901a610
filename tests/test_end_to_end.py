"""End to end: models built from the implementation's own layers train on real MNIST.

Staged gates, each with its own verdict: a fresh model's loss is near ln(10); it can overfit 32 samples; then it
reaches the target test accuracy (embedded 4,000/1,000 subset by default, full MNIST with --mnist-dir). The models
are built and trained in the sandbox (nn_harness/sandbox/training.py); the test labels stay here, where the
predictions are scored.
"""

from pathlib import Path

import numpy as np
import pytest

from nn_harness.grading import points
from nn_harness.report import evidence
from nn_harness.run.options import option
from nn_harness.run.verdicts import evidence_folder
from nn_harness.sandbox.student import CheckFailure, call
from nn_harness.training import recipes
from nn_harness.training.data import load_mnist

models = pytest.mark.parametrize("model", ["mlp", "cnn"])
# Per training check; stopped early with a message when too slow. The subset's leaves room for a course's Conv2d that
# loops over samples and channel pairs (practical_dl's scipy.signal.correlate template: about 0.15 s per step of the
# CNN on an idle 2-core machine, 37 s for its 250 steps of 16; twice that beside another job).
BUDGET_S = {"subset": 480.0, "full": 720.0}


@pytest.fixture(scope="session")
def mnist(pytestconfig):
    data = load_mnist(option(pytestconfig, "mnist_dir"))
    for array in (data.x_train, data.y_train, data.x_test, data.y_test):
        array.flags.writeable = False  # sent to the sandbox as constants, never shared back
    return data


def trainer(implementation, model, profile):
    """The namespace the model is built from and the sandbox's training module (the models live there)."""
    reason = points.not_graded(profile, f"{model.upper()} end to end", "")
    if reason:
        pytest.skip(reason)
    try:
        return implementation.require(recipes.MODEL_NEEDS[model]), implementation.service("training")
    except AssertionError as failure:
        message = f"{model.upper()} end to end\n{failure}"
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback in the report


def run(model, what, fn, *args, **kwargs):
    """fn(*args, **kwargs) in the sandbox; what the submission raises there fails the check, naming its line (and,
    inside a layer, the layer, the call and the shapes: nn_harness/sandbox/training.py)."""
    title = f"{model.upper()} end to end: {what}"
    try:
        return call(title, lambda: fn(*args, **kwargs))
    except CheckFailure as failure:
        message = str(failure) if str(failure).startswith(title) else f"{title}: {failure}"
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback in the report


def verdict(gate):
    if not gate["ok"]:
        pytest.fail(gate["message"], pytrace=False)


@models
def test_initial_loss_near_ln10(implementation, profile, mnist, model):
    """On 256 training samples (the test labels never enter the sandbox): the mean loss of a fresh model varies by
    about 0.01 between such draws, against the tolerance of 0.3, and a Conv2d that loops over samples takes 4 s for
    1000."""
    nn, remote = trainer(implementation, model, profile)
    verdict(run(model, "initial loss", remote.initial_loss_gate, nn, model, 0, mnist.x_train[:256],
                mnist.y_train[:256]))


@models
def test_overfits_32_samples(implementation, profile, mnist, model):
    nn, remote = trainer(implementation, model, profile)
    r = recipes.OVERFIT_RECIPE
    verdict(run(model, "overfitting 32 samples", remote.overfit_gate, nn, model, 0, mnist.x_train[:r.n_samples],
                mnist.y_train[:r.n_samples], r.lr, r.momentum, r.steps))


@models
def test_reaches_target_accuracy(implementation, profile, mnist, model, pytestconfig, record_property, request):
    nn, remote = trainer(implementation, model, profile)
    recipe = recipes.recipe_for(model, mnist)
    kind = "subset" if len(mnist.y_train) < 60000 else "full"
    sent = run(model, "training", remote.training_run, nn, model, 0, mnist.x_train, mnist.y_train, mnist.x_test,
               epochs=recipe.epochs, batch_size=recipe.batch_size, lr=recipe.lr, momentum=recipe.momentum,
               train_seed=recipe.seed, time_budget_s=BUDGET_S[kind])
    result = recipes.result_from(sent, mnist.y_test)
    record_property("test_accuracy", result.final_test_accuracy)
    record_property("wall_time_s", round(result.wall_time_s, 2))
    plots = option(pytestconfig, "plots")
    if plots:
        Path(plots).mkdir(parents=True, exist_ok=True)
        recipes.plot_curves({result.name: result}, Path(plots) / f"{model}-{kind}.png")
    evidence.keep_curves(evidence_folder(request.config), request.node, {result.name: result}, f"{model}-{kind}")
    print(f"{result.summary()} on {mnist.source}")
    if not (np.isfinite(result.final_test_accuracy) and result.final_test_accuracy >= recipe.target):
        pytest.fail(f"{model.upper()} end to end: {result.name} reached test accuracy {result.final_test_accuracy:.4f} "
                    f"after {recipe.epochs} epochs on {mnist.source}; the target is {recipe.target}\n  {result.summary()}",
                    pytrace=False)
