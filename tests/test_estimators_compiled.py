"""The MLP estimators' stochastic epochs on the compiled step give the Python loop's weights
and loss curve to rounding, and fall back to that loop where the compiled step cannot run."""
import warnings

import numpy as np
import pytest

from fastnn import MLPClassifier, MLPRegressor
from fastnn.estimators import _mlp_base

scipy_sparse = pytest.importorskip("scipy.sparse")
CHOOSE, RUN = _mlp_base.compiled_loss, _mlp_base.compiled_epoch


def _data(n=131, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)


def _fit(monkeypatch, compiled, estimator, X, y, **fit):
    """Fit (then partial_fit once), the compiled path allowed or not; returns the estimator, how
    many epochs ran compiled and how many ran in all."""
    epochs = []
    monkeypatch.setattr(_mlp_base, "compiled_loss", CHOOSE if compiled else (lambda *args: None))
    monkeypatch.setattr(_mlp_base, "compiled_epoch", lambda *args: epochs.append(1) or RUN(*args))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X, y, **fit)
        ran = estimator.n_iter_
        if not estimator.early_stopping:
            estimator.partial_fit(X, y, **fit)
            ran += 1
    return estimator, len(epochs), ran


CONFIGS = [dict(solver="sgd", momentum=0.9), dict(solver="sgd", momentum=0.0, alpha=0.3, learning_rate="invscaling"),
           dict(solver="sgd", nesterovs_momentum=False, learning_rate="adaptive", early_stopping=True),
           dict(solver="adam", alpha=0.01, activation="tanh"), dict(solver="adam", batch_size=131, activation="logistic")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("config", CONFIGS)
def test_compiled_epochs_equal_the_python_loop(monkeypatch, config, binary, dtype):
    X, y = _data()
    X = X.astype(dtype)
    y = (y > 0).astype(int) if binary else y
    settings = dict(dict(hidden_layer_sizes=(9, 5), batch_size=20, max_iter=6, random_state=1), **config)
    _assert_compiled_fit_equals_loop(monkeypatch, lambda: MLPClassifier(**settings), X, y, dtype)


def _assert_compiled_fit_equals_loop(monkeypatch, make, X, y, dtype):
    """Every epoch of the fit (and a partial_fit) compiled, with the Python loop's weights, loss
    curve and counts to rounding."""
    plain, none, _ = _fit(monkeypatch, False, make(), X, y)
    compiled, epochs, ran = _fit(monkeypatch, True, make(), X, y)
    assert none == 0 and epochs == ran > 1
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    for a, b in zip(plain.coefs_ + plain.intercepts_, compiled.coefs_ + compiled.intercepts_):
        np.testing.assert_allclose(b, a, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(compiled.loss_curve_, plain.loss_curve_, rtol=tolerance)
    assert compiled.n_iter_ == plain.n_iter_ and compiled.t_ == plain.t_


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden, batch_size, nesterov", [((70, 33), 30, True), ((70, 33), 30, False),
                                                         ((70, 33), 3, True), ((2100, 5), 30, True)])
def test_l2_penalty_over_many_weights_equals_the_python_loop(monkeypatch, isa, dtype, hidden, batch_size,
                                                             nesterov):
    """|W|^2 over weights of several vector blocks (the compiled epoch sums it in C as each row
    block of a weight leaves its update, by SGD's momentum kernel with or without Nesterov as it
    writes them; or the whole weight after its update: few rows, more than fused_optim.c's
    SQUARED_BLOCKS_MAX blocks; the loop in numpy), with an alpha whose penalty dominates the loss
    curve, on every instruction set."""
    X, y = _data(n=90, n_features=40)
    settings = dict(hidden_layer_sizes=hidden, solver="sgd", momentum=0.9, nesterovs_momentum=nesterov,
                    alpha=3.0, batch_size=batch_size, max_iter=3, random_state=2)
    _assert_compiled_fit_equals_loop(monkeypatch, lambda: MLPClassifier(**settings), X.astype(dtype),
                                     y, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("config", [dict(solver="sgd", momentum=0.9, alpha=0.3), dict(solver="adam", alpha=0.01)])
def test_regressor_epochs_equal_the_python_loop(monkeypatch, config, outputs, dtype):
    """scikit-learn's squared error (half the mean, the gradient of half the sum over the
    outputs) on the compiled step's MSE with its weights."""
    X, _ = _data()
    X = X.astype(dtype)
    y = np.stack([X[:, 0] * 2 - X[:, 1], np.sin(X[:, 2]), X[:, 3] * X[:, 4]], axis=1)[:, :outputs]
    y = y[:, 0] if outputs == 1 else y
    settings = dict(hidden_layer_sizes=(9, 5), batch_size=20, max_iter=5, random_state=1, **config)
    _assert_compiled_fit_equals_loop(monkeypatch, lambda: MLPRegressor(**settings), X, y, dtype)


def test_switching_between_compiled_and_python_epochs_continues_exactly(monkeypatch):
    """A compiled fit, then partial_fit on sparse X (the Python loop), then dense again: as if
    every epoch had run the Python loop (its L2 term and Adam's eps left as the loop needs)."""
    X, y = _data()
    for solver in ("sgd", "adam"):
        settings = dict(hidden_layer_sizes=(7,), batch_size=25, max_iter=3, random_state=0, solver=solver)
        runs = []
        for compiled in (False, True):
            est, _, _ = _fit(monkeypatch, compiled, MLPClassifier(**settings), X, y)
            est.partial_fit(scipy_sparse.csr_matrix(X), y)
            est.partial_fit(X, y)
            runs.append(est)
        for a, b in zip(runs[0].coefs_ + runs[0].intercepts_, runs[1].coefs_ + runs[1].intercepts_):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["sparse", "sample_weight", "poisson", "multilabel"])
def test_what_the_compiled_step_cannot_run_falls_back(monkeypatch, case):
    X, y = _data()
    estimator = MLPClassifier((5,), max_iter=2, random_state=0)
    fit = {}
    if case == "sparse":
        X = scipy_sparse.csr_matrix(X)
    elif case == "sample_weight":
        fit = {"sample_weight": np.linspace(0.5, 2, X.shape[0])}
    elif case == "poisson":
        estimator, y = MLPRegressor((5,), loss="poisson", max_iter=2, random_state=0), np.exp(X[:, 0])
    else:
        y = np.stack([y > 0, y > 1], axis=1).astype(int)
    _, epochs, ran = _fit(monkeypatch, True, estimator, X, y, **fit)
    assert epochs == 0 and ran == 3
