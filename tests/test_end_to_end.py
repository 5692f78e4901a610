"""End to end: models built from the implementation's own layers train on real MNIST.

Staged gates, each with its own verdict: a fresh model's loss is near ln(10); it can overfit 32 samples; then it
reaches the target test accuracy (embedded 4,000/1,000 subset by default, full MNIST with --mnist-dir).
"""

from pathlib import Path

import numpy as np
import pytest

from harness import grading, training
from harness.data import load_mnist
from harness.plugin import option

models = pytest.mark.parametrize("model", ["mlp", "cnn"])
BUDGET_S = {"subset": 240.0, "full": 720.0}  # per training check; stopped early with a message when too slow


@pytest.fixture(scope="session")
def mnist(pytestconfig):
    return load_mnist(option(pytestconfig, "mnist_dir"))


def fresh(implementation, model, profile, seed=0):
    reason = grading.not_graded(profile, f"{model.upper()} end to end", "")
    if reason:
        pytest.skip(reason)
    try:
        nn = implementation.require(training.MODEL_NEEDS[model])
    except AssertionError as failure:
        pytest.fail(f"{model.upper()} end to end\n{failure}", pytrace=False)
    net = training.MODEL_BUILDERS[model](nn)
    training.init_parameters(net, seed)
    return nn, net


def verdict(gate):
    if not gate.ok:
        pytest.fail(str(gate), pytrace=False)


@models
def test_initial_loss_near_ln10(implementation, profile, mnist, model):
    nn, net = fresh(implementation, model, profile)
    verdict(training.initial_loss(net, nn.CrossEntropyLoss(), mnist.x_test[:1000], mnist.y_test[:1000]))


@models
def test_overfits_32_samples(implementation, profile, mnist, model):
    nn, net = fresh(implementation, model, profile)
    r = training.OVERFIT_RECIPE
    optimizer = training.make_optimizer(nn, net, lr=r.lr, momentum=r.momentum)
    verdict(training.overfit_small(net, nn.CrossEntropyLoss(), optimizer, mnist.x_train[:r.n_samples],
                                   mnist.y_train[:r.n_samples], steps=r.steps))


@models
def test_reaches_target_accuracy(implementation, profile, mnist, model, pytestconfig, record_property):
    nn, net = fresh(implementation, model, profile)
    recipe = training.recipe_for(model, mnist)
    kind = "subset" if len(mnist.y_train) < 60000 else "full"
    optimizer = training.make_optimizer(nn, net, lr=recipe.lr, momentum=recipe.momentum)
    result = training.train(net, nn.CrossEntropyLoss(), optimizer, mnist, epochs=recipe.epochs,
                            batch_size=recipe.batch_size, seed=recipe.seed, time_budget_s=BUDGET_S[kind],
                            progress=training.progress_default() and pytestconfig.getoption("capture") == "no",
                            name=training.MODEL_LABELS[model])
    record_property("test_accuracy", result.final_test_accuracy)
    record_property("wall_time_s", round(result.wall_time_s, 2))
    plots = option(pytestconfig, "plots")
    if plots:
        Path(plots).mkdir(parents=True, exist_ok=True)
        training.plot_curves({result.name: result}, Path(plots) / f"{model}-{kind}.png")
    print(f"{result.summary()} on {mnist.source}")
    assert np.isfinite(result.final_test_accuracy) and result.final_test_accuracy >= recipe.target, (
        f"{result.name} reached test accuracy {result.final_test_accuracy:.4f} after {recipe.epochs} epochs on "
        f"{mnist.source}; the target is {recipe.target}\n  {result.summary()}")
