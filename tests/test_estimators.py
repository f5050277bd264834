import os
import pickle
import subprocess
import sys
import unittest
import warnings

import numpy as np
import pytest

from fastnn import MLPClassifier, MLPRegressor
from fastnn.datasets import make_spirals, make_xor
from fastnn.estimators._validation import InvalidParameterError
from fastnn.estimators._epoch import objective
from fastnn.estimators._network import HIDDEN_ACTIVATIONS
from fastnn.estimators.mlp import OUTPUT_LOSSES

pytestmark = pytest.mark.filterwarnings("ignore:Stochastic Optimizer")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blobs(n=120, n_features=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (n_classes, n_features))
    y = np.arange(n) % n_classes
    return centers[y] + rng.normal(0, 1, (n, n_features)), y


# ---- the gradient: finite differences in float64 ---------------------------------------------

def total_loss(est, X, targets, weights):
    """The training objective of one batch, as _epoch.objective defines it."""
    network = est._network
    losses, _ = OUTPUT_LOSSES[est.out_activation_](network.forward(X), targets)
    weight_sum = len(X) if weights is None else weights.sum()
    data = losses.mean() if weights is None else losses @ weights / weight_sum
    if est.out_activation_ == "identity":
        # scikit-learn reports ½·mean over outputs but steps along the gradient of ½·sum over them
        data *= network.layer_units[-1]
    return data + 0.5 * est.alpha * network.squared_norm() / weight_sum


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("task", ["softmax", "logistic", "multilabel", "identity", "poisson"])
def test_gradient_matches_finite_differences(activation, task):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 4))
    weights = rng.uniform(0.5, 2.0, 7)
    if task in ("identity", "poisson"):
        est = MLPRegressor((5, 3), activation=activation, alpha=0.3, max_iter=1,
                           loss="poisson" if task == "poisson" else "squared_error")
        y = rng.normal(size=(7, 2)) if task == "identity" else rng.poisson(2.0, size=(7, 2))
    else:
        est = MLPClassifier((5, 3), activation=activation, alpha=0.3, max_iter=1)
        y = np.arange(7) % (3 if task == "softmax" else 2)
        if task == "multilabel":
            y = np.column_stack([y, 1 - y, np.arange(7) % 3 == 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert est.out_activation_ == {"multilabel": "logistic", "poisson": "exp"}.get(task, task)
    assert est.coefs_[0].dtype == np.float64  # X is float64: so is the model
    targets, _ = est._targets(y, X, False, True, None, "test")
    network = est._network
    objective(network, OUTPUT_LOSSES[est.out_activation_], X, targets, weights, est.alpha)
    analytic = network.grads.copy()
    numeric = np.empty_like(analytic)
    step = 1e-6
    for i in range(network.params.size):
        saved = network.params[i]
        network.params[i] = saved + step
        up = total_loss(est, X, targets, weights)
        network.params[i] = saved - step
        down = total_loss(est, X, targets, weights)
        network.params[i] = saved
        numeric[i] = (up - down) / (2 * step)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


# ---- the same training as scikit-learn's, step for step --------------------------------------

@pytest.mark.parametrize("solver,learning_rate,nesterov", [
    ("sgd", "constant", True), ("sgd", "constant", False), ("sgd", "invscaling", True),
    ("sgd", "adaptive", True), ("adam", "constant", True)])
@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_training_equals_scikit_learns_from_the_same_weights(solver, learning_rate, nesterov, task):
    neural_network = pytest.importorskip("sklearn.neural_network")
    X, y = blobs(60, 4, 3)
    if task == "binary":
        y = y % 2
    elif task == "regression":
        y = np.column_stack([X.sum(axis=1), X[:, 0] * X[:, 1]])
    Ours, Theirs = (MLPRegressor, neural_network.MLPRegressor) if task == "regression" else \
        (MLPClassifier, neural_network.MLPClassifier)
    params = dict(hidden_layer_sizes=(6, 5), activation="tanh", solver=solver, alpha=1e-2, batch_size=16,
                  learning_rate=learning_rate, learning_rate_init=0.01, shuffle=False, max_iter=1,
                  nesterovs_momentum=nesterov, warm_start=True, random_state=0,
                  tol=10.0 if learning_rate == "adaptive" else 1e-4, n_iter_no_change=1)
    theirs, ours = Theirs(**params), Ours(**params, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X, y)
        ours.fit(X, y)
        # From here both start from scikit-learn's weights with a fresh optimiser (scikit-learn's
        # warm-start fit makes a new one; ours keeps its own, so we drop it).
        ours.coefs_ = [c.copy() for c in theirs.coefs_]
        ours.intercepts_ = [b.copy() for b in theirs.intercepts_]
        ours._optimizer = None
        ours.best_loss_ = theirs.best_loss_
        theirs.set_params(max_iter=4).fit(X, y)
        ours.set_params(max_iter=4).fit(X, y)
    for mine, reference in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X) if task != "regression" else theirs.predict(X),
                               rtol=1e-9, atol=1e-12)
    if task != "regression":
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9, atol=1e-12)


# ---- behaviour -----------------------------------------------------------------------------

def test_learns_xor_and_spirals():
    X, y = make_xor(200, noise=0.1, random_state=0)
    clf = MLPClassifier((16,), learning_rate_init=0.05, max_iter=200, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.97
    X, y = make_spirals(300, noise=0.02, random_state=0)
    clf = MLPClassifier((64, 64), learning_rate_init=0.01, max_iter=300, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95


def test_string_labels_classes_and_probabilities():
    X, y = blobs(90, 4, 3)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier((8,), learning_rate_init=0.05, max_iter=100, random_state=0).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(clf.classes_) and clf.score(X, names) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (90, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), atol=1e-10)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))


def test_binary_uses_one_logistic_output():
    X, y = blobs(60, 3, 2)
    clf = MLPClassifier((4,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, np.where(y == 1, "yes", "no"))
    assert clf.out_activation_ == "logistic" and clf.coefs_[-1].shape == (4, 1) and clf.n_outputs_ == 1
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.where(proba[:, 1] > 0.5, "yes", "no"), clf.predict(X))


def test_fitted_attributes_shapes_and_dtypes():
    X, y = blobs(50, 6, 4)
    for dtype in (np.float32, np.float64):
        clf = MLPClassifier((7, 5), max_iter=3, random_state=0, dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y)
        assert [c.shape for c in clf.coefs_] == [(6, 7), (7, 5), (5, 4)]
        assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (4,)]
        assert all(c.dtype == dtype for c in clf.coefs_ + clf.intercepts_)
        assert clf.n_features_in_ == 6 and clf.n_layers_ == 4 and clf.n_iter_ == 3
        assert len(clf.loss_curve_) == 3 and clf.loss_ == clf.loss_curve_[-1]
        assert clf.best_loss_ == min(clf.loss_curve_) and clf.validation_scores_ is None


def test_stops_when_loss_stops_improving():
    X, y = blobs(60, 4, 3)
    clf = MLPClassifier((8,), learning_rate_init=0.05, tol=1.0, n_iter_no_change=3, max_iter=100,
                        random_state=0).fit(X, y)
    assert clf.n_iter_ == 5  # the first epoch sets best_loss_, four more fail to beat it by tol


def test_early_stopping_restores_the_best_weights():
    X, y = make_spirals(200, noise=0.05, random_state=0)
    clf = MLPClassifier((32,), solver="sgd", learning_rate_init=0.5, momentum=0.9, early_stopping=True,
                        validation_fraction=0.2, n_iter_no_change=8, max_iter=60, random_state=3).fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ and clf.best_validation_score_ == max(scores)
    assert clf.best_loss_ is None
    np.testing.assert_array_equal(clf._network.params, clf._best_params)
    # the restored weights score the best validation score on the held-out rows
    train, val = MLPClassifier(validation_fraction=0.2)._validation_split(200, y, np.random.default_rng(0))
    assert len(val) == 40 and len(np.intersect1d(train, val)) == 0
    assert np.bincount(y[val]).tolist() == [20, 20]  # stratified


def test_partial_fit_keeps_the_optimizer_state():
    X, y = blobs(64, 4, 3)
    kwargs = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05, shuffle=False, batch_size=16,
                  random_state=0)
    incremental = MLPClassifier(**kwargs)
    for _ in range(3):
        incremental.partial_fit(X, y, classes=[0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = MLPClassifier(**kwargs, max_iter=3, tol=0.0).fit(X, y)
    for a, b in zip(incremental.coefs_ + incremental.intercepts_, whole.coefs_ + whole.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert incremental.t_ == 3 * 64 and np.any(incremental._optimizer.get_state()["optimizer.momentum_buffer"] != 0)


def test_warm_start_continues_with_weights_and_optimizer():
    X, y = blobs(64, 4, 3)
    kwargs = dict(hidden_layer_sizes=(8,), solver="adam", shuffle=False, random_state=0, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = MLPClassifier(**kwargs, max_iter=2, warm_start=True).fit(X, y)
        warm.set_params(max_iter=3).fit(X, y)
        cold = MLPClassifier(**kwargs, max_iter=5).fit(X, y)
    for a, b in zip(warm.coefs_, cold.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert len(warm.loss_curve_) == 5 and warm._optimizer.t == cold._optimizer.t


def test_sample_weight_zero_drops_rows_and_integer_weights_repeat_them():
    X, y = blobs(40, 3, 2)
    kwargs = dict(hidden_layer_sizes=(5,), solver="sgd", shuffle=False, max_iter=5, random_state=0,
                  dtype=np.float64, alpha=1e-2)  # batch 'auto' covers all rows: full-batch gradient descent
    weights = np.tile([0.0, 1.0, 2.0, 1.0], 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = MLPClassifier(**kwargs).fit(X, y, sample_weight=weights)
        repeated = MLPClassifier(**kwargs).fit(np.repeat(X, weights.astype(int), axis=0),
                                               np.repeat(y, weights.astype(int)))
    for a, b in zip(weighted.coefs_, repeated.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_regressor_fits_multiple_outputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.column_stack([X @ [1.0, -2.0, 0.5], np.tanh(X[:, 0])])
    reg = MLPRegressor((32,), learning_rate_init=0.01, max_iter=300, random_state=0).fit(X, Y)
    prediction = reg.predict(X)
    assert prediction.shape == (200, 2) and prediction.dtype == np.float64
    assert reg.score(X, Y) > 0.95
    assert reg.predict(X[:3]).shape == (3, 2)
    reg1 = MLPRegressor((4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg1.fit(X, Y[:, 0])
    assert reg1.predict(X).shape == (200,)


def test_coefs_replaced_by_the_user_are_used():
    X, y = blobs(30, 3, 3)
    clf = MLPClassifier((4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_[:-1]] + [np.array([0.0, 5.0, 0.0])]
    assert (clf.predict(X) == 1).all()


def test_verbose_prints_one_line_per_epoch(capsys, monkeypatch):
    import fastnn.estimators._progress as progress
    monkeypatch.setattr(progress, "tqdm", None)
    X, y = blobs(30, 3, 3)
    MLPClassifier((4,), max_iter=3, tol=0.0, verbose=True, early_stopping=True, validation_fraction=0.3,
                  random_state=0).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Iteration")]
    assert len(lines) == 3
    assert all("loss = " in line and "validation score = " in line and "time = " in line for line in lines)


# ---- bad input -----------------------------------------------------------------------------

def fitted():
    X, y = blobs(30, 4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((4,), max_iter=2, random_state=0).fit(X, y), X, y


def test_predict_with_the_wrong_number_of_features():
    clf, X, _ = fitted()
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4 features"):
        clf.predict(X[:, :3])


def test_bad_X_y_and_sample_weight():
    X, y = blobs(30, 4, 3)
    clf = MLPClassifier((4,), max_iter=2)
    bad_X = X.copy()
    bad_X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(bad_X, y)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(29,\), expected \(30,\)"):
        clf.fit(X, y, sample_weight=np.ones(29))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        clf.fit(X, y + 0.5)
    with pytest.raises(ValueError, match="2D"):
        clf.fit(X[0], y)
    with pytest.raises(ValueError, match="not a 0/1 indicator"):
        clf.fit(X, np.column_stack([y, y]))


def test_invalid_parameters_name_the_parameter():
    X, y = blobs(30, 4, 3)
    for bad in [dict(alpha=-1.0), dict(solver="newton"), dict(activation="swish"), dict(hidden_layer_sizes=(4, 0)),
                dict(batch_size=0), dict(momentum=1.5), dict(dtype=np.int32), dict(max_iter=0)]:
        (name, value), = bad.items()
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of MLPClassifier"):
            MLPClassifier(**bad).fit(X, y)


def test_partial_fit_rules():
    X, y = blobs(30, 4, 3)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    clf = MLPClassifier((4,)).partial_fit(X, y % 2, classes=[0, 1, 2])  # a batch need not hold every class
    assert clf.classes_.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 1)


def test_not_fitted():
    with pytest.raises(ValueError, match="not fitted"):
        MLPClassifier().predict(np.zeros((2, 2)))


# ---- scikit-learn interoperability ---------------------------------------------------------

def scikit_learns_check_params(name):
    """scikit-learn's own set-up for its MLP of that name in its common tests: the constructor
    parameters (INIT_PARAMS) and, per check, the parameter sets it runs instead
    (PER_ESTIMATOR_CHECK_PARAMS; check_estimator applies them only to scikit-learn's classes)."""
    neural_network = pytest.importorskip("sklearn.neural_network")
    try:
        from sklearn.utils._test_common.instance_generator import INIT_PARAMS, PER_ESTIMATOR_CHECK_PARAMS
    except ImportError:  # a private module: the values of scikit-learn 1.9, should it move
        return {"max_iter": 100}, {"check_sample_weight_equivalence_on_dense_data": [
            dict(solver="lbfgs") if name == "MLPClassifier" else dict(solver="sgd", tol=1e-2, random_state=42)]}
    theirs = getattr(neural_network, name)
    per_check = {check: [params] if isinstance(params, dict) else list(params)
                 for check, params in PER_ESTIMATOR_CHECK_PARAMS.get(theirs, {}).items()}
    return INIT_PARAMS.get(theirs, {}), per_check


def scikit_learn_check_results(estimator, per_check):
    """{(check name, parameters): "passed", "skipped: ..." or "failed: ..."} for every
    scikit-learn estimator check on `estimator`, with the per-check parameter sets."""
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    from sklearn.base import clone
    from sklearn.exceptions import SkipTestWarning  # noqa: F401  (scikit-learn is there)
    results = {}
    for estimator, check in estimator_checks.estimator_checks_generator(
            estimator, legacy=True, mark=None):
        name = getattr(check, "func", check).__name__
        for params in per_check.get(name, [{}]):
            instance = clone(estimator).set_params(**params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    check(instance)
                    results[name, str(params)] = "passed"
                except unittest.SkipTest as skip:
                    results[name, str(params)] = f"skipped: {skip}"
                except Exception as error:  # noqa: BLE001 - every failure is reported below
                    results[name, str(params)] = f"failed: {type(error).__name__}: {str(error)[:300]}"
    return results


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor], ids=["MLPClassifier", "MLPRegressor"])
def test_check_estimator(Estimator):
    """Every scikit-learn estimator check passes, none expected to fail, run as scikit-learn runs
    them on its own MLPs (including sample-weight equivalence, with its parameters)."""
    init_params, per_check = scikit_learns_check_params(Estimator.__name__)
    results = scikit_learn_check_results(Estimator(**init_params), per_check)
    failed = {key: r for key, r in results.items() if r.startswith("failed")}
    assert failed == {}
    skipped = {key[0] for key, r in results.items() if r.startswith("skipped")}
    # skipped as for scikit-learn's own MLPs: no array-API namespace here, no decision_function
    assert skipped <= {"check_array_api_input", "check_classifiers_multilabel_output_format_decision_function"}
    assert ("check_sample_weight_equivalence_on_dense_data", str(per_check[
        "check_sample_weight_equivalence_on_dense_data"][0])) in results
    assert len(results) > 50


def test_clone_pipeline_grid_search_and_pickle():
    base = pytest.importorskip("sklearn.base")
    pipeline = pytest.importorskip("sklearn.pipeline")
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    model_selection = pytest.importorskip("sklearn.model_selection")
    X, y = blobs(90, 4, 3)
    clf = MLPClassifier((8,), learning_rate_init=0.05, max_iter=60, random_state=0)
    assert base.clone(clf).get_params() == clf.get_params()
    pipe = pipeline.make_pipeline(preprocessing.StandardScaler(), clf)
    search = model_selection.GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2).fit(X, y)
    assert search.best_score_ > 0.8
    fitted_clf = search.best_estimator_[-1]
    restored = pickle.loads(pickle.dumps(fitted_clf))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted_clf.predict_proba(X))
    restored.set_params(warm_start=True, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        restored.fit(X, y)  # the unpickled network trains: its lists still view its buffer
    assert restored._network.owns(restored.coefs_, restored.intercepts_)
    assert _optimizes_the_network(restored)
    assert not np.array_equal(restored.coefs_[0], fitted_clf.coefs_[0])  # the training moved the weights


def test_works_without_scikit_learn():
    script = """
import sys, pickle, warnings
sys.modules['sklearn'] = None  # any import of scikit-learn now fails
sys.modules['scipy'] = None  # and of scipy: L-BFGS and the rest need numpy only
import numpy as np
from fastnn import MLPClassifier, MLPRegressor
from fastnn.estimators import _base
assert not _base.HAVE_SKLEARN
from fastnn.datasets import make_xor
X, y = make_xor(100, noise=0.1, random_state=0)
clf = MLPClassifier((8,), learning_rate_init=0.05, max_iter=100, random_state=0).fit(X, y)
assert clf.score(X, y) > 0.9, clf.score(X, y)
assert clf.get_params()['hidden_layer_sizes'] == (8,)
assert clf.set_params(alpha=0.5).alpha == 0.5
assert 'MLPClassifier(' in repr(clf)
pickle.loads(pickle.dumps(clf)).predict(X)
reg = MLPRegressor((8,), max_iter=200, learning_rate_init=0.01, random_state=0).fit(X, X[:, 0] * 2)
assert reg.score(X, X[:, 0] * 2) > 0.9
lbfgs = MLPRegressor((8,), solver="lbfgs", max_iter=300, random_state=0).fit(X, X[:, 0] * 2)
assert lbfgs.score(X, X[:, 0] * 2) > 0.99, lbfgs.score(X, X[:, 0] * 2)
try:
    clf.predict(X[:, :1])
except ValueError as e:
    assert 'expecting 2 features' in str(e)
else:
    raise AssertionError('no error')
print('ok')
"""
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_verbose_uses_a_progress_bar_when_tqdm_is_there(capsys, monkeypatch):
    import fastnn.estimators._progress as progress
    bars = []

    class FakeBar:
        def __init__(self, total, desc, unit):
            self.total, self.updates, self.postfix, self.closed = total, 0, None, False
            bars.append(self)

        def set_postfix(self, postfix, refresh):
            self.postfix = postfix

        def update(self, n):
            self.updates += n

        def write(self, text):
            pass

        def close(self):
            self.closed = True

    monkeypatch.setattr(progress, "tqdm", FakeBar)
    X, y = blobs(30, 3, 3)
    MLPClassifier((4,), max_iter=4, tol=0.0, verbose=True, random_state=0).fit(X, y)
    (bar,) = bars
    assert bar.total == 4 and bar.updates == 4 and bar.closed and "loss" in bar.postfix
    assert "Iteration" not in capsys.readouterr().out


def test_learning_rate_schedules():
    X, y = blobs(40, 3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((4,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, power_t=0.25,
                            max_iter=3, random_state=0).fit(X, y)
    assert clf._optimizer.learning_rate == pytest.approx(0.5 / (3 * 40 + 1) ** 0.25)
    # adaptive: with tol too large to meet, the rate is divided by 5 each time the rule fires
    clf = MLPClassifier((4,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, tol=1e9,
                        n_iter_no_change=1, max_iter=1000, random_state=0).fit(X, y)
    assert clf._optimizer.learning_rate <= 1e-6 < clf._optimizer.learning_rate * 5
    # The first epoch sets best_loss_; the rule then fires every second epoch (3, 5, ...); after eight
    # divisions the rate is 0.1 / 5**8 <= 1e-6, so the ninth firing, at epoch 19, stops.
    assert clf.n_iter_ == 19


def _optimizes_the_network(estimator):
    """The estimator's optimizer steps its network's own parameters (views of its flat buffer)."""
    network, optimizer = estimator._network, estimator._optimizer.optimizer
    stepped = [p for group in optimizer.param_groups for p in group["params"]]
    return (all(a is b for a, b in zip(stepped, network.weight_parameters + network.intercept_parameters))
            and all(np.shares_memory(p.data, network.params) for p in stepped))
