"""bfloat16 training: the digits MLP trained in float32 and with its products in bf16.

`model.to_precision("bf16")` rounds the operands of every Linear's three products (forward, dX,
dW) to bfloat16 and accumulates in float32; weights, gradients and the optimizer stay float32.
On CPUs with AVX512-BF16 the products run at twice float32's rate; elsewhere the same numbers
come from the float32 kernels. Prints the two loss curves side by side, the test accuracies and
the training times, then the same with the estimator (`MLPClassifier(precision="bf16")`).

    python examples/bf16_training.py
    python examples/bf16_training.py --epochs 10
"""
import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from _common import standardise, stratified_split  # noqa: E402
from fastnn import nn, optim  # noqa: E402
from fastnn.datasets import load_digits  # noqa: E402


def train(precision, X, y, epochs):
    """The (256, 256) ReLU MLP, SGD with Nesterov momentum, batches of 64: (model, loss per
    epoch, seconds)."""
    model = nn.Sequential(nn.Linear(X.shape[1], 256, rng=0), nn.ReLU(), nn.Linear(256, 256, rng=1),
                          nn.ReLU(), nn.Linear(256, 10, rng=2)).to_precision(precision)
    step = model.compile_step(nn.CrossEntropyLoss(),
                              optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True))
    started = time.perf_counter()
    curve = [step.fit_epoch(X, y, batch_size=64, rng_seed=epoch) for epoch in range(epochs)]
    return model, curve, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    train_rows, test_rows = stratified_split(y, 0.25, seed=0)
    X_train, X_test = (x.astype(np.float32) for x in standardise(X[train_rows], X[test_rows]))
    print(f"digits: {len(train_rows)} train / {len(test_rows)} test; kernels "
          f"{fastnn.cpu_info()['isa']} (bf16 native: {fastnn.cpu_info()['bf16_native']})")

    runs = {p: train(p, X_train, y[train_rows], args.epochs) for p in ("fp32", "bf16")}
    print("epoch   loss fp32   loss bf16")
    for epoch in sorted({0, *range(4, args.epochs, 5), args.epochs - 1}):
        print(f"{epoch + 1:5d}   {runs['fp32'][1][epoch]:9.5f}   {runs['bf16'][1][epoch]:9.5f}")
    for precision, (model, _, seconds) in runs.items():
        accuracy = np.mean(model(X_test).argmax(axis=1) == y[test_rows])
        print(f"{precision}  nn.Sequential + compile_step: test accuracy {accuracy:.4f}, "
              f"{args.epochs} epochs in {seconds:.3f} s")

    for precision in ("fp32", "bf16"):
        clf = fastnn.MLPClassifier((256, 256), solver="sgd", momentum=0.9, batch_size=64,
                                   max_iter=args.epochs, random_state=0, precision=precision)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "max_iter reached": the epochs are the setting
            started = time.perf_counter()
            clf.fit(X_train, y[train_rows])
            seconds = time.perf_counter() - started
        print(f"{precision}  MLPClassifier(precision={precision!r}): test accuracy "
              f"{clf.score(X_test, y[test_rows]):.4f}, fit {seconds:.3f} s")


if __name__ == "__main__":
    main()
