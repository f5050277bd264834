"""A small CNN on the 8x8 digits beside an MLP, with the same training budget.

Both networks are fastnn.nn modules trained by the same loop: the same 75/25 stratified split,
standardised pixels, SGD with momentum 0.9, batch 64, the same learning rate and number of epochs,
cross-entropy. The CNN sees each image as (1, 8, 8): two 3x3 convolutions (with batch
normalisation and ReLU, 2x2 max pooling after each), then a linear layer; the MLP sees 64
features (one hidden ReLU layer of 128). Prints each network's parameter count, test accuracy
(mean over the seeds) and training time.

    python examples/cnn_digits.py                   # 30 epochs, 3 seeds
    python examples/cnn_digits.py --epochs 10 --seeds 1 --threads 1
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from _common import standardise, stratified_split  # noqa: E402
from fastnn import nn, optim  # noqa: E402
from fastnn.datasets import load_digits  # noqa: E402


def cnn(seed):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=seed), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=seed + 1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.25, rng=seed), nn.Linear(32 * 2 * 2, 10, rng=seed + 2))


def mlp(seed):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128, rng=seed), nn.ReLU(),
                         nn.Linear(128, 10, rng=seed + 1))


def train(model, X, y, epochs, seed, lr=0.05, batch=64):
    """SGD with momentum on mini-batches in a fresh random order each epoch."""
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start:start + batch]
            if len(rows) < 2:  # batch normalisation needs two samples per batch
                continue
            opt.zero_grad()
            loss_fn(model(X[rows]), y[rows])
            model.backward(loss_fn.backward(), need_input_grad=False)
            opt.step()
    return model.eval()


def accuracy(model, X, y):
    return float((model(X).argmax(axis=1) == y).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3, help="initialisations to average over")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads is not None:
        fastnn.set_num_threads(args.threads)

    X, y = load_digits(return_X_y=True)
    train_rows, test_rows = stratified_split(y, 0.25, seed=0)
    X_train, X_test = standardise(X[train_rows], X[test_rows])
    images = lambda A: np.ascontiguousarray(A.reshape(-1, 1, 8, 8), dtype=np.float32)
    X_train, X_test = images(X_train), images(X_test)
    print(f"digits: {len(train_rows)} train / {len(test_rows)} test images of 8x8; "
          f"SGD momentum 0.9, lr 0.05, batch 64, {args.epochs} epochs, {args.seeds} seed(s)")

    for name, build in (("CNN", cnn), ("MLP", mlp)):
        scores, seconds = [], 0.0
        for seed in range(args.seeds):
            model = build(seed)
            started = time.perf_counter()
            train(model, X_train, y[train_rows], args.epochs, seed)
            seconds += time.perf_counter() - started
            scores.append(accuracy(model, X_test, y[test_rows]))
        size = sum(p.size for p in model.parameters())
        print(f"{name}  {size:6d} parameters  mean test accuracy {np.mean(scores):.4f}  "
              f"(per seed {' '.join(f'{s:.4f}' for s in scores)})  train {seconds / args.seeds:.2f} s")


if __name__ == "__main__":
    main()
