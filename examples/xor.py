"""XOR, two ways: a linear model on the feature map Φ(u, v) = (u, v, u·v), where the classes
are separable by a plane, and one hidden layer on the raw (u, v), which learns its own features.

    python examples/xor.py
"""
import numpy as np

from fastnn.datasets import make_xor
from fastnn.estimators import LinearSVM, LogisticRegression, MLPClassifier, Perceptron


def phi(X):
    """Φ(u, v) = (u, v, u·v)."""
    return np.column_stack([X, X[:, 0] * X[:, 1]])


def main():
    X, y = make_xor(400, noise=0.2, random_state=0)
    X_test, y_test = make_xor(400, noise=0.2, random_state=1)
    print("model                            raw (u, v)   Φ(u, v) = (u, v, u·v)")
    for model in (LogisticRegression(C=10.0, max_iter=300), LinearSVM(max_iter=300),
                  Perceptron(random_state=0, max_iter=50)):
        raw = model.fit(X, y).score(X_test, y_test) if not isinstance(model, Perceptron) else \
            _quiet_fit(model, X, y).score(X_test, y_test)
        mapped = model.fit(phi(X), y).score(phi(X_test), y_test)
        print(f"{type(model).__name__:32s} {raw:10.3f}   {mapped:10.3f}")
    mlp = MLPClassifier((8,), activation="tanh", solver="adam", learning_rate_init=0.05, max_iter=300,
                        random_state=0).fit(X, y)
    print(f"{'MLPClassifier, one hidden layer':32s} {mlp.score(X_test, y_test):10.3f}")


def _quiet_fit(model, X, y):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the perceptron never converges on raw XOR: that is the point
        return model.fit(X, y)


if __name__ == "__main__":
    main()
