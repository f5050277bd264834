"""What a scikit-learn user switching one import line relies on, tested without scikit-learn
where it can be: L-BFGS and max_fun, the Poisson loss, multilabel y, sparse X, weights in X's
dtype, single-class y, pickling that keeps training, hand-set coefs_, a diverging fit under
early stopping, and scikit-learn's parameters accepted as they are."""
import io
import pickle
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import MLPClassifier, MLPRegressor
from fastnn.estimators._base import ConvergenceWarning
from fastnn.estimators._lbfgs import minimize


def regression_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.05 * rng.normal(size=n)


def classes_data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    return rng.normal(size=(n, 4)) + 2.5 * np.eye(3, 4)[y], y


# ---- L-BFGS ------------------------------------------------------------------------------------

def rosenbrock(x):
    f = np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return f, g


def test_lbfgs_minimises_rosenbrock_as_scipy_does():
    result = minimize(rosenbrock, np.full(10, -1.0), max_iter=1000, max_fun=15000, gtol=1e-8)
    assert result.status == 0 and result.fun < 1e-8
    np.testing.assert_allclose(result.x, 1.0, atol=1e-4)
    optimize = pytest.importorskip("scipy.optimize")
    theirs = optimize.minimize(rosenbrock, np.full(10, -1.0), jac=True, method="L-BFGS-B",
                               options=dict(maxiter=1000, maxfun=15000, gtol=1e-8))
    assert abs(result.nit - theirs.nit) <= 0.2 * theirs.nit  # 67 and 68 when written


def test_lbfgs_stopping_rules():
    quadratic = lambda x: (0.5 * float(x @ x), x.copy())  # noqa: E731
    assert minimize(quadratic, np.zeros(3), max_iter=5, max_fun=5, gtol=0.0).nit == 0  # already optimal
    result = minimize(rosenbrock, np.full(6, -1.0), max_iter=3, max_fun=100, gtol=0.0)
    assert (result.status, result.nit) == (1, 3) and "ITERATIONS" in result.message
    result = minimize(rosenbrock, np.full(6, -1.0), max_iter=100, max_fun=4, gtol=0.0)
    assert result.status == 1 and result.nfev > 4 and "EVALUATIONS" in result.message
    seen = []
    minimize(rosenbrock, np.full(6, -1.0), max_iter=4, max_fun=100, gtol=0.0,
             callback=lambda nit, f: seen.append((nit, f)))
    assert [nit for nit, _ in seen] == [1, 2, 3, 4] and seen[-1][1] < seen[0][1]


def test_lbfgs_solver_fits_and_warns_like_scikit_learn():
    X, y = regression_data()
    reg = MLPRegressor((16,), solver="lbfgs", max_iter=400, random_state=0).fit(X, y)
    assert reg.score(X, y) > 0.97 and reg.loss_ == reg.loss_curve_[-1] and len(reg.loss_curve_) == reg.n_iter_
    assert not hasattr(reg, "partial_fit") and not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPRegressor((16,), solver="lbfgs", max_fun=5, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=3"):
        short = MLPRegressor((16,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    assert short.n_iter_ == 3


def test_lbfgs_fit_matches_scikit_learns():
    neural_network = pytest.importorskip("sklearn.neural_network")
    X, y = regression_data()
    # From scikit-learn's initial weights (the same draws), while every line search takes its
    # first step, the iterates are scipy's own: identical to rounding for the first 5 here
    # (later, where a line search interpolates, the two methods choose different trial steps).
    params = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=5, tol=1e-6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = MLPRegressor(**params).fit(X, y), neural_network.MLPRegressor(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-10)
    for mine, reference in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, reference, rtol=1e-8, atol=1e-10)


# ---- losses and targets ---------------------------------------------------------------------------

def test_poisson_regression_predicts_a_positive_mean():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (200, 1))
    y = rng.poisson(np.exp(X[:, 0] + 1))
    reg = MLPRegressor((1,), activation="identity", loss="poisson", solver="lbfgs", alpha=0, tol=1e-7,
                       random_state=1).fit(X, y)
    assert reg.out_activation_ == "exp" and (reg.predict(X) > 0).all()
    # one identity unit then exp: the Poisson GLM, whose fitted means sum to Σy
    np.testing.assert_allclose(reg.predict(X).sum(), y.sum(), rtol=1e-4)
    with pytest.raises(ValueError, match="negative"):
        MLPRegressor(loss="poisson").fit(X, -y)


def test_multilabel_indicator_y():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 2] > 0]).astype(int)
    clf = MLPClassifier((32,), solver="lbfgs", max_iter=300, random_state=0).fit(X, Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3 and clf.classes_.tolist() == [0, 1, 2]
    assert clf.predict(X).shape == (80, 3) and clf.score(X, Y) > 0.9
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(proba > 0.5, clf.predict(X) == 1)
    assert not np.allclose(proba.sum(axis=1), 1.0)
    incremental = MLPClassifier((8,), solver="sgd", random_state=0)
    incremental.partial_fit(X, Y, classes=[0, 1, 2])
    assert incremental.predict(X).shape == (80, 3)


def test_single_class_y_predicts_it():
    X, _ = classes_data()
    clf = MLPClassifier((4,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, np.full(len(X), "only"))
    assert clf.classes_.tolist() == ["only"] and (clf.predict(X) == "only").all()
    np.testing.assert_array_equal(clf.predict_proba(X), 1.0)


# ---- X: sparse and dtypes -------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sparse_X_trains_as_its_dense_twin_without_densifying(solver, monkeypatch):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = classes_data()
    X[np.abs(X) < 1.0] = 0
    params = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dense = MLPClassifier(**params).fit(X, y)
        for kind in (sparse.csr_matrix, sparse.csc_matrix, sparse.csr_array):
            X_sparse = kind(X)
            monkeypatch.setattr(type(X_sparse), "toarray", lambda *a, **k: pytest.fail("densified"))
            fitted = MLPClassifier(**params).fit(X_sparse, y)
            for mine, reference in zip(fitted.coefs_ + fitted.intercepts_, dense.coefs_ + dense.intercepts_):
                np.testing.assert_allclose(mine, reference, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(fitted.predict_proba(X_sparse), dense.predict_proba(X), atol=1e-10)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_weights_follow_X_dtype_unless_dtype_is_given(Estimator):
    X, y = classes_data()
    kwargs = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for X_in, expected in ((X.astype(np.float32), np.float32), (X, np.float64),
                               (np.rint(X).astype(int).tolist(), np.float64)):
            est = Estimator(**kwargs).fit(X_in, y)
            assert {a.dtype for a in est.coefs_ + est.intercepts_} == {np.dtype(expected)}
            output = est.predict(X_in) if Estimator is MLPRegressor else est.predict_proba(X_in)
            assert output.dtype == expected
        forced = Estimator(**kwargs, dtype=np.float32).fit(X, y)
    assert forced.coefs_[0].dtype == np.float32


# ---- state: pickling, hand-set weights, divergence ---------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_pickled_estimator_keeps_training_exactly_as_the_original(solver):
    X, y = classes_data()
    clf = MLPClassifier((6,), solver=solver, shuffle=False, random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    dumpers = [lambda est: pickle.loads(pickle.dumps(est))]
    try:
        import joblib
        def through_joblib(est):
            buffer = io.BytesIO()
            joblib.dump(est, buffer)
            buffer.seek(0)
            return joblib.load(buffer)
        dumpers.append(through_joblib)
    except ImportError:
        pass
    for dump_and_load in dumpers:
        copy = dump_and_load(clf)
        stepped = [p for group in copy._optimizer.optimizer.param_groups for p in group["params"]]
        assert all(np.shares_memory(p.data, copy._network.params) for p in stepped)
        before = copy.coefs_[0].copy()
        copy.partial_fit(X, y)
        assert not np.array_equal(copy.coefs_[0], before)
        reference = pickle.loads(pickle.dumps(clf)).partial_fit(X, y)
        np.testing.assert_array_equal(copy.coefs_[0], reference.coefs_[0])


def test_coefs_set_by_hand_then_partial_fit():
    clf = MLPClassifier(hidden_layer_sizes=2, solver="sgd", momentum=0, learning_rate_init=0.1, alpha=0.0,
                        activation="logistic")
    clf.coefs_ = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]), np.array([[0.1], [0.2]])]
    clf.intercepts_ = [np.array([0.1, 0.1]), np.array([1.0])]
    clf.n_features_in_ = 3
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    hidden = 1 / (1 + np.exp(-(X @ clf.coefs_[0] + clf.intercepts_[0])))
    delta = 1 / (1 + np.exp(-(hidden @ clf.coefs_[1] + clf.intercepts_[1]))) - y  # σ(z) − y
    expected = clf.coefs_[1] - 0.1 * hidden.T @ delta
    clf.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_allclose(clf.coefs_[1], expected, rtol=1e-12)


def test_diverging_fit_with_early_stopping_records_nan():
    X, y = regression_data()
    reg = MLPRegressor(100, activation="identity", solver="sgd", learning_rate_init=1.0, max_iter=20,
                       early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X * 100, y)
    assert isinstance(reg.validation_scores_[-1], float) and np.isnan(reg.validation_scores_[-1])
    assert all(np.isfinite(c).all() for c in reg.coefs_)  # the best weights, restored


def test_scikit_learns_parameters_are_accepted_as_they_are():
    neural_network = pytest.importorskip("sklearn.neural_network")
    for Theirs, Ours in ((neural_network.MLPClassifier, MLPClassifier),
                         (neural_network.MLPRegressor, MLPRegressor)):
        params = Theirs(solver="lbfgs", max_fun=100).get_params()
        assert Ours(**params).get_params() == dict(params, dtype=None, precision="fp32")


@pytest.mark.parametrize("make, data", [
    (lambda: MLPClassifier((5,), solver="lbfgs", max_iter=20, random_state=0), classes_data),
    (lambda: MLPRegressor((5,), loss="poisson", solver="lbfgs", max_iter=20, random_state=0),
     lambda: (classes_data()[0], classes_data()[1] * 2)),
    (lambda: MLPClassifier((5,), max_iter=3, random_state=0),
     lambda: (classes_data()[0], np.eye(3, dtype=int)[classes_data()[1]] | (classes_data()[0][:, :3] > 1))),
])
def test_save_and_load_keep_the_new_models(tmp_path, make, data):
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = make().fit(X, y)
    fastnn.save(tmp_path / "m.npz", est)
    copy = fastnn.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(copy.predict(X), est.predict(X))


def test_docstring_examples_run():
    import doctest

    from fastnn.estimators import mlp
    result = doctest.testmod(mlp, raise_on_error=True)
    assert result.attempted >= 8
