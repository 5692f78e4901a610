"""Forward + backward time of impl/ layers against torch CPU, float32, median of repeats, in one run.

    python -m bench.layers [--repeats 30] [--threads N]

Prints one row per case: impl ms, torch ms, ratio (impl / torch), and the goal from the project's issue.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import impl  # noqa: E402
from reference import nn as tnn  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[object], object]  # from a namespace (impl or reference.nn), like the registry
    shape: tuple[int, ...]
    goal: float | None  # the target ratio impl / torch; None: it sets none
    indices: int = 0  # > 0: the input is integer indices below this (Embedding), not float32 values
    states: tuple[tuple[int, ...], ...] = ()  # shapes of further float32 inputs after `shape` (recurrent states)


CASES = [
    Case("Linear(784, 128), batch 64", lambda nn: nn.Linear(784, 128), (64, 784), 1.3),
    Case("Linear(128, 10), batch 64", lambda nn: nn.Linear(128, 10), (64, 128), 1.3),
    Case("Conv2d(1, 8, 3, p=1) on 64x1x28x28", lambda nn: nn.Conv2d(1, 8, 3, padding=1), (64, 1, 28, 28), 3.0),
    Case("Conv2d(8, 16, 3, p=1) on 64x8x14x14", lambda nn: nn.Conv2d(8, 16, 3, padding=1), (64, 8, 14, 14), 3.0),
    Case("Conv2d(3, 32, 3, p=1) on 64x3x32x32 (CIFAR)", lambda nn: nn.Conv2d(3, 32, 3, padding=1), (64, 3, 32, 32), 3.0),
    Case("Conv2d(32, 64, 3, p=1) on 64x32x16x16 (CIFAR)", lambda nn: nn.Conv2d(32, 64, 3, padding=1), (64, 32, 16, 16),
         3.0),
    Case("MaxPool2d(2) on 64x16x28x28", lambda nn: nn.MaxPool2d(2), (64, 16, 28, 28), 3.0),
    Case("MaxPool2d(3, stride=2, p=1) on 64x32x32x32", lambda nn: nn.MaxPool2d(3, stride=2, padding=1), (64, 32, 32, 32),
         3.0),
    # The layers of issue 13 beyond the first homework (it sets no speed goal for them).
    Case("AvgPool2d(3, stride=2, p=1) on 64x32x32x32", lambda nn: nn.AvgPool2d(3, stride=2, padding=1), (64, 32, 32, 32),
         None),
    Case("GELU() on 64x256", lambda nn: nn.GELU(), (64, 256), None),
    Case("GELU(approximate='tanh') on 64x256", lambda nn: nn.GELU(approximate="tanh"), (64, 256), None),
    Case("BatchNorm2d(32) on 64x32x16x16", lambda nn: nn.BatchNorm2d(32), (64, 32, 16, 16), None),
    Case("LayerNorm(256) on 64x32x256", lambda nn: nn.LayerNorm(256), (64, 32, 256), None),
    Case("GroupNorm(8, 32) on 64x32x16x16", lambda nn: nn.GroupNorm(8, 32), (64, 32, 16, 16), None),
    Case("Embedding(10000, 128) on 64x32 indices", lambda nn: nn.Embedding(10000, 128), (64, 32), None, indices=10000),
    Case("RNNCell(128, 256), batch 64", lambda nn: nn.RNNCell(128, 256), (64, 128), None, states=((64, 256),)),
    Case("LSTMCell(128, 256), batch 64", lambda nn: nn.LSTMCell(128, 256), (64, 128), None,
         states=((64, 256), (64, 256))),
    Case("RNN(128, 256) on 64x32 steps", lambda nn: nn.RNN(128, 256), (64, 32, 128), None, states=((64, 256),)),
    Case("LSTM(128, 256) on 64x32 steps", lambda nn: nn.LSTM(128, 256), (64, 32, 128), None,
         states=((64, 256), (64, 256))),
]


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up (allocations, BLAS threads)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def case_inputs(case: Case) -> list[np.ndarray]:
    """The input, then the states if the case has any."""
    rng = np.random.default_rng(0)
    if case.indices:
        return [rng.integers(0, case.indices, case.shape)]
    return [rng.standard_normal(shape).astype(np.float32) for shape in (case.shape, *case.states)]


def outputs(out: object) -> tuple:
    """A layer's outputs as a tuple: most have one, LSTMCell two (h and c)."""
    return out if isinstance(out, tuple) else (out,)


def impl_step(case: Case) -> Callable[[], object]:
    layer = case.build(impl)
    inputs = case_inputs(case)
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(o.shape).astype(np.float32) for o in outputs(layer.forward(*inputs))]

    def step() -> object:
        layer.forward(*inputs)
        return layer.backward(*inputs, *grads)
    return step


def torch_step(case: Case) -> Callable[[], object]:
    layer = case.build(tnn)
    inputs = [torch.tensor(x, requires_grad=not case.indices) for x in case_inputs(case)]  # indices have no gradient
    grads = [torch.randn(o.shape) for o in outputs(layer(*inputs))]

    def step() -> object:
        for x in inputs:
            x.grad = None
        torch.autograd.backward(outputs(layer(*inputs)), grads)
        return [x.grad for x in inputs]
    return step


def cross_entropy_steps(n: int, c: int) -> tuple[Callable[[], object], Callable[[], object]]:
    logits = np.random.default_rng(0).standard_normal((n, c)).astype(np.float32)
    target = np.random.default_rng(1).integers(0, c, n)
    ours = impl.CrossEntropyLoss()
    theirs = torch.nn.CrossEntropyLoss()
    lt, tt = torch.tensor(logits, requires_grad=True), torch.tensor(target)

    def torch_run() -> object:
        lt.grad = None
        theirs(lt, tt).backward()
        return lt.grad
    return (lambda: (ours.forward(logits, target), ours.backward(logits, target))), torch_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="BLAS and torch threads (default: as configured)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    rows = [(c.name, median_ms(impl_step(c), args.repeats), median_ms(torch_step(c), args.repeats), c.goal)
            for c in CASES]
    for n, c in ((64, 10), (256, 1000)):
        ours, theirs = cross_entropy_steps(n, c)
        rows.append((f"CrossEntropyLoss on {n}x{c}", median_ms(ours, args.repeats), median_ms(theirs, args.repeats),
                     None))
    print(f"numpy {np.__version__} / torch {torch.__version__}, {torch.get_num_threads()} threads, float32,"
          f" forward + backward, median of {args.repeats}")
    print(f"{'case':<48} {'impl ms':>9} {'torch ms':>9} {'ratio':>7}  goal")
    for name, ours, theirs, goal in rows:
        ratio = ours / theirs
        verdict = "" if goal is None else f"<= {goal:g}x  {'met' if ratio <= goal else 'NOT met'}"
        print(f"{name:<48} {ours:>9.3f} {theirs:>9.3f} {ratio:>6.2f}x  {verdict}")


if __name__ == "__main__":
    main()
