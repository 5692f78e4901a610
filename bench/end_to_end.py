"""End-to-end benchmark: the implementation's MLP and CNN against the same models in plain PyTorch.

    python bench/end_to_end.py [--mnist-dir DIR] [--models mlp,cnn] [--epochs N] [--seed S] [--plot curves.png]

Both frameworks get the same initial parameters (nn_harness.sandbox.training.initial_values with the same seed), the same
batches in the same order and the recipe's hyperparameters (nn_harness.training.recipes.RECIPES). PyTorch runs as plain
torch.nn + torch.optim.SGD in float32. Prints test accuracy, wall time, time per epoch and the impl/torch ratio.
Run from the repository root (the root is put on sys.path so `impl` and `harness` import).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nn_harness.sandbox.training import (  # noqa: E402 - the loop the sandbox runs, here in-process beside torch
    MODEL_BUILDERS,
    MODEL_LABELS,
    TrainResult,
    batches,
    init_parameters,
    initial_values,
    make_optimizer,
    train,
)
from nn_harness.training.data import load_mnist  # noqa: E402
from nn_harness.training.recipes import plot_curves, recipe_for  # noqa: E402


def train_torch(model_name: str, data, recipe, *, seed: int, progress: bool) -> TrainResult:
    """The same model, init, batches and hyperparameters in plain PyTorch (float32)."""
    model = MODEL_BUILDERS[model_name](torch.nn)
    with torch.no_grad():
        for p, v in zip(model.parameters(), initial_values([tuple(p.shape) for p in model.parameters()], seed)):
            p.copy_(torch.from_numpy(v).to(p.dtype))
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    x_test, y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
    rng = np.random.default_rng(seed)  # same stream as nn_harness.sandbox.training.train
    res = TrainResult(name=f"{model_name} torch", epochs=recipe.epochs, batch_size=recipe.batch_size)
    idx = np.arange(len(y_train))
    t0 = time.perf_counter()
    for epoch in range(1, recipe.epochs + 1):
        te = time.perf_counter()
        model.train()
        loss_sum, correct = 0.0, 0
        for _, ib in batches(idx, idx, recipe.batch_size, rng=rng):
            ib = torch.from_numpy(ib)
            xb, yb = x_train[ib], y_train[ib]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            res.steps += 1
            res.curve.append((res.steps, loss.item()))
            loss_sum += loss.item() * len(yb)
            correct += int((out.argmax(1) == yb).sum())
        model.eval()
        with torch.no_grad():
            hits = sum(
                int((model(x_test[i : i + 1000]).argmax(1) == y_test[i : i + 1000]).sum()) for i in range(0, len(y_test), 1000)
            )
        res.train_loss.append(loss_sum / len(y_train))
        res.train_accuracy.append(correct / len(y_train))
        res.test_accuracy.append(hits / len(y_test))
        res.epoch_time_s.append(time.perf_counter() - te)
        if progress:
            print(
                f"  torch {model_name} epoch {epoch}: loss {res.train_loss[-1]:.4f} test acc {res.test_accuracy[-1]:.4f}"
                f" ({time.perf_counter() - t0:.1f}s)",
                file=sys.stderr,
            )
    res.wall_time_s = time.perf_counter() - t0
    return res


def train_impl(nn, model_name: str, data, recipe, *, seed: int, progress: bool) -> TrainResult:
    model = MODEL_BUILDERS[model_name](nn)
    init_parameters(model, seed)
    optimizer = make_optimizer(nn, model, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    return train(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        data.x_train,
        data.y_train,
        data.x_test,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        seed=seed,
        name=f"{model_name} impl ({MODEL_LABELS[model_name]})",
    ).scored(data.y_test)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--mnist-dir",
        default=os.environ.get("MNIST_DIR"),
        help="folder with the official MNIST files (default: $MNIST_DIR, else the embedded subset)",
    )
    ap.add_argument("--models", default="mlp,cnn", help="comma-separated: mlp, cnn")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epoch count")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--impl", default="impl", help="module with the implementation's layers (default: impl)")
    ap.add_argument("--skip-impl", action="store_true", help="time PyTorch only")
    ap.add_argument("--plot", default=None, help="write learning curves to this PNG")
    args = ap.parse_args(argv)

    data = load_mnist(args.mnist_dir)
    print(f"data: {data.source}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    nn, impl_error = None, None
    if not args.skip_impl:
        impl_label = args.impl
        try:
            nn = importlib.import_module(args.impl)
        except Exception as exc:  # report, still time torch
            impl_error = f"{type(exc).__name__}: {exc}"
    progress = sys.stderr.isatty() and not os.environ.get("CI")

    rows, results = [], {}
    for model_name in [m.strip() for m in args.models.split(",") if m.strip()]:
        recipe = recipe_for(model_name, data)
        if args.epochs:
            recipe = type(recipe)(**{**recipe.__dict__, "epochs": args.epochs})
        t_res = train_torch(model_name, data, recipe, seed=args.seed, progress=progress)
        results[f"{model_name} torch"] = t_res
        i_res, note = None, impl_error or ""
        if nn is not None:
            try:
                i_res = train_impl(nn, model_name, data, recipe, seed=args.seed, progress=progress)
                results[f"{model_name} {impl_label}"] = i_res
            except Exception as exc:  # one model failing must not hide the other's numbers
                note = f"{type(exc).__name__}: {exc}"
        rows.append((model_name, "torch", recipe, t_res, ""))
        rows.append((model_name, "impl", recipe, i_res, note, t_res))

    header = (
        f"{'model':<6} {'framework':<9} {'epochs':>6} {'batch':>5} {'lr':>5} {'test acc':>8} {'target':>6} "
        f"{'wall s':>8} {'s/epoch':>8} {'impl/torch':>10}"
    )
    print(header)
    print("-" * len(header))
    for model_name, fw, recipe, res, note, *ref in rows:
        if res is None:
            print(
                f"{model_name:<6} {fw:<9} {recipe.epochs:>6} {recipe.batch_size:>5} {recipe.lr:>5} "
                f"{'-':>8} {recipe.target:>6.3f} {'-':>8} {'-':>8} {'-':>10}  not run: {note}"
            )
            continue
        ratio = f"{res.wall_time_s / ref[0].wall_time_s:.1f}x" if ref else ""
        flag = "" if res.final_test_accuracy >= recipe.target else "  BELOW TARGET"
        print(
            f"{model_name:<6} {fw:<9} {len(res.test_accuracy):>6} {recipe.batch_size:>5} {recipe.lr:>5} "
            f"{res.final_test_accuracy:>8.4f} {recipe.target:>6.3f} {res.wall_time_s:>8.1f} "
            f"{res.time_per_epoch_s:>8.2f} {ratio:>10}{flag}"
        )
    if args.plot and results:
        plot_curves(results, args.plot)
        print(f"learning curves: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
