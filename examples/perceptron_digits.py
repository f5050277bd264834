"""The seeds' perceptron on the digits "0" and "1": w ← w + y·x on each mistake, epoch after
epoch until one passes without a change. Prints, per epoch, the number of changes and the
train and test error.

    python examples/perceptron_digits.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from _common import stratified_split  # noqa: E402
from fastnn.datasets import load_digits  # noqa: E402
from fastnn.estimators import Perceptron  # noqa: E402


def main(max_epochs=100):
    X, y = load_digits(n_class=2, return_X_y=True)
    train, test = stratified_split(y, 0.25, seed=0)
    print(f'digits "0" vs "1": {len(train)} train / {len(test)} test images of {X.shape[1]} pixels')
    perceptron = Perceptron(shuffle=False)
    print("epoch  changes  train error  test error")
    for epoch in range(1, max_epochs + 1):
        perceptron.partial_fit(X[train], y[train], classes=[0, 1])
        changes = perceptron.mistakes_per_epoch_[-1]
        train_error = np.mean(perceptron.predict(X[train]) != y[train])
        test_error = np.mean(perceptron.predict(X[test]) != y[test])
        print(f"{epoch:5d}  {changes:7d}  {train_error:11.4f}  {test_error:10.4f}")
        if changes == 0:
            print(f"an epoch without a change: the training set is separated after {epoch} epochs")
            break


if __name__ == "__main__":
    main()
