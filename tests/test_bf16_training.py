"""Training in bf16 against float32: the digits MLP of the issue's bar and the seeds' examples
(XOR, the universal approximation of sin), loss curves and final scores, and the bf16 example.

The tolerances: a bf16 product rounds each operand by at most 2^-9 of itself, a relative
perturbation of each gradient far below the minibatch noise SGD already works with, so bf16 and
float32 runs from one initialisation stay close over the epochs (measured on the digits, 5 seeds:
every epoch's loss within 3e-4 relative, the test accuracy equal or one sample of 450 apart). The
bounds below leave that room several times over, and are tight enough to catch a wrong gradient
(the curves part by far more within a few epochs)."""
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from fastnn import MLPClassifier, MLPRegressor
from fastnn.datasets import load_digits, make_xor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
from _common import standardise, stratified_split  # noqa: E402


def fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached: the epochs are the setting
        return estimator.fit(X, y)


def both(make, X, y):
    """The same estimator fitted in float32 and in bf16."""
    return {p: fit(make(precision=p, dtype=np.float32), X, y) for p in ("fp32", "bf16")}


@pytest.mark.parametrize("seed", [0, 1])
def test_digits_bf16_trains_as_float32(seed):
    X, y = load_digits(return_X_y=True)
    train, test = stratified_split(y, 0.25, seed=0)
    X_train, X_test = (x.astype(np.float32) for x in standardise(X[train], X[test]))
    fits = both(lambda **p: MLPClassifier((256, 256), solver="sgd", momentum=0.9, batch_size=64,
                                          max_iter=50, random_state=seed, **p), X_train, y[train])
    curves = {p: np.array(m.loss_curve_) for p, m in fits.items()}
    assert len(curves["bf16"]) == len(curves["fp32"]) == 50
    np.testing.assert_allclose(curves["bf16"], curves["fp32"], rtol=3e-3)
    assert curves["bf16"][-1] < 0.1 * curves["bf16"][0]  # it learnt
    accuracy = {p: m.score(X_test, y[test]) for p, m in fits.items()}
    assert accuracy["bf16"] > 0.93
    assert abs(accuracy["bf16"] - accuracy["fp32"]) <= 2 / len(test) + 1e-12  # within 0.45 points


def test_xor_example_in_bf16():
    X, y = make_xor(400, noise=0.2, random_state=0)
    X_test, y_test = make_xor(400, noise=0.2, random_state=1)
    fits = both(lambda **p: MLPClassifier((8,), activation="tanh", solver="adam",
                                          learning_rate_init=0.05, max_iter=300, random_state=0, **p),
                X, y)
    assert fits["bf16"].score(X_test, y_test) > 0.97
    assert abs(fits["bf16"].score(X_test, y_test) - fits["fp32"].score(X_test, y_test)) <= 0.01
    # the first epochs, before the two reach their (differently noisy) floors
    np.testing.assert_allclose(fits["bf16"].loss_curve_[:10], fits["fp32"].loss_curve_[:10], rtol=2e-2)


def test_universal_approximation_example_in_bf16():
    """The regressor trains on the Python loop: sin to 0.1 as in float32. Rounding x itself to
    8 bits moves sin(x) by up to 2^-9·π ≈ 0.006, so bf16's floor is higher than float32's."""
    x = np.linspace(-np.pi, np.pi, 256).reshape(-1, 1)
    grid = np.linspace(-np.pi, np.pi, 2001).reshape(-1, 1)
    fits = both(lambda **p: MLPRegressor((64,), activation="relu", solver="adam", learning_rate_init=0.01,
                                         batch_size=64, max_iter=400, tol=0.0, n_iter_no_change=100,
                                         random_state=0, **p), x, np.sin(x).ravel())
    errors = {p: np.max(np.abs(m.predict(grid) - np.sin(grid).ravel())) for p, m in fits.items()}
    assert errors["bf16"] < 0.1 and errors["fp32"] < 0.1
    np.testing.assert_allclose(fits["bf16"].loss_curve_[:20], fits["fp32"].loss_curve_[:20], rtol=2e-2)


def test_bf16_example_runs():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "bf16_training.py"),
                             "--epochs", "5"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    accuracy = dict(re.findall(r"^(fp32|bf16)\s.*test accuracy ([\d.]+)", result.stdout, flags=re.M))
    assert set(accuracy) == {"fp32", "bf16"} and float(accuracy["bf16"]) > 0.7
