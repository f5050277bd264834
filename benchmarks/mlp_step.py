"""Time one SGD-momentum training step (zero_grad, forward, loss, backward, step) of a ReLU MLP
with cross-entropy, in fastnn and, when installed, in torch; one thread each.

    python benchmarks/mlp_step.py --sizes 64 64 64 10 --batch 32
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import fastnn  # noqa: E402
from fastnn import nn, optim  # noqa: E402


def best_of(step, repeats, number):
    for _ in range(number):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            step()
        times.append((time.perf_counter() - start) / number)
    return min(times) * 1e6, sorted(times)[len(times) // 2] * 1e6


def fastnn_step(sizes, x, y):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out, rng=i))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), need_input_grad=False)
        opt.step()
    return step


def torch_step(torch, sizes, x, y):
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 64, 64, 10])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=300, help="steps per timed repeat")
    args = parser.parse_args()
    fastnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, args.sizes[0])).astype(np.float32)
    y = rng.integers(0, args.sizes[-1], args.batch)
    label = f"{'-'.join(map(str, args.sizes))} MLP, batch {args.batch}"
    best, median = best_of(fastnn_step(args.sizes, x, y), args.repeats, args.number)
    print(f"fastnn {label}: best {best:.1f} us, median {median:.1f} us per step")
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
    best, median = best_of(torch_step(torch, args.sizes, x, y), args.repeats, args.number)
    print(f"torch {torch.__version__} {label}: best {best:.1f} us, median {median:.1f} us per step")


if __name__ == "__main__":
    main()
