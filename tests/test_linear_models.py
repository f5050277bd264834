import warnings

import numpy as np
import pytest

from fastnn.datasets import load_digits, make_xor
from fastnn.estimators import LinearSVM, LogisticRegression, Perceptron
from fastnn.estimators._base import ConvergenceWarning


def seeds_perceptron(X, y_signs, max_epochs):
    """The seeds' loop, sample by sample: w ← w + y·x on each mistake, x augmented with 1."""
    Xa = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(Xa.shape[1])
    history = []
    for _ in range(max_epochs):
        changes = 0
        for x, y in zip(Xa, y_signs):
            if y * (w @ x) <= 0:
                w += y * x
                changes += 1
        history.append(changes)
        if changes == 0:
            break
    return w, history


def digits_pair():
    X, y = load_digits(n_class=2, return_X_y=True)
    return X, y


def test_perceptron_equals_the_sample_by_sample_rule():
    X, y = digits_pair()
    w, history = seeds_perceptron(X, np.where(y == 1, 1.0, -1.0), 100)
    clf = Perceptron(shuffle=False).fit(X, y)
    np.testing.assert_array_equal(clf.coef_[0], w[:-1])
    assert clf.intercept_[0] == w[-1]
    assert clf.mistakes_per_epoch_ == history and history[-1] == 0 and history[0] > 0
    assert clf.n_iter_ == len(history) and clf.score(X, y) == 1.0


def test_perceptron_one_vs_rest_equals_one_perceptron_per_class():
    X, y = load_digits(n_class=3, return_X_y=True)
    clf = Perceptron(shuffle=False, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.coef_.shape == (3, 64)
    for k in range(3):
        w, _ = seeds_perceptron(X, np.where(y == k, 1.0, -1.0), clf.n_iter_)
        np.testing.assert_array_equal(clf.coef_[k], w[:-1])
    assert clf.score(X, y) > 0.97


def test_perceptron_partial_fit_is_one_epoch_and_shuffle_is_seeded():
    X, y = digits_pair()
    clf = Perceptron(shuffle=False)
    clf.partial_fit(X, y, classes=[0, 1])
    w, history = seeds_perceptron(X, np.where(y == 1, 1.0, -1.0), 1)
    np.testing.assert_array_equal(clf.coef_[0], w[:-1])
    assert clf.mistakes_per_epoch_ == history
    a = Perceptron(random_state=3).fit(X, y)
    b = Perceptron(random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_perceptron_warns_on_data_it_cannot_separate():
    X, y = make_xor(100, noise=0.1, random_state=0)
    with pytest.warns(ConvergenceWarning, match="linearly separable"):
        Perceptron(max_iter=20, random_state=0).fit(X, y)


def test_logistic_regression_matches_scikit_learn():
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, y = load_digits(n_class=4, return_X_y=True)
    X = X / 16
    for labels, C in ((y, 0.5), (y % 2, 0.2)):
        ours = LogisticRegression(C=C, max_iter=5000, tol=1e-8).fit(X, labels)
        theirs = linear_model.LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, labels)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-4)
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)


def test_logistic_regression_probabilities_and_loss_curve():
    X, y = load_digits(n_class=3, return_X_y=True)
    clf = LogisticRegression(C=0.1).fit(X / 16, y)
    proba = clf.predict_proba(X / 16)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X / 16), np.log(proba), atol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X / 16))
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    binary = LogisticRegression().fit(X[y < 2] / 16, np.where(y[y < 2] == 1, "one", "zero"))
    assert binary.classes_.tolist() == ["one", "zero"] and binary.coef_.shape == (1, 64)
    assert binary.predict_proba(X[:3] / 16).shape == (3, 2)


def svm_objective(svm, X, signs):
    scores = X @ svm.coef_.T + svm.intercept_
    return svm.alpha * np.sum(svm.coef_ ** 2) + np.maximum(0, 1 - signs * scores).sum(axis=1).mean()


def test_linear_svm_objective_is_near_scikit_learns():
    svm = pytest.importorskip("sklearn.svm")
    X, y = load_digits(return_X_y=True)
    X, y = X / 16, (y == 3).astype(int)
    alpha = 1e-3
    ours = LinearSVM(alpha=alpha).fit(X, y)
    # the same problem: ½‖w‖² + C·Σ hinge with C = 1/(2λn); a large intercept_scaling leaves b nearly unpenalised
    theirs = svm.LinearSVC(C=1 / (2 * alpha * len(y)), loss="hinge", intercept_scaling=100, tol=1e-8,
                           max_iter=100000).fit(X, y)
    signs = np.where(y == 1, 1.0, -1.0)[:, None]
    reference = alpha * np.sum(theirs.coef_ ** 2) + np.maximum(
        0, 1 - signs[:, 0] * (X @ theirs.coef_[0] + theirs.intercept_[0])).mean()
    assert svm_objective(ours, X, signs) == pytest.approx(ours.objective_)
    assert ours.objective_ < 1.1 * reference
    assert min(ours.loss_curve_) == ours.objective_


def test_linear_svm_one_vs_rest_and_separable_data():
    X, y = load_digits(n_class=4, return_X_y=True)
    svm = LinearSVM(alpha=1e-3, max_iter=300).fit(X / 16, y)
    assert svm.coef_.shape == (4, 64) and svm.decision_function(X[:5] / 16).shape == (5, 4)
    assert svm.score(X / 16, y) > 0.98
    signs = np.where(y[:, None] == np.arange(4), 1.0, -1.0)
    assert svm_objective(svm, X / 16, signs) == pytest.approx(svm.objective_)
    assert svm.objective_ < 0.1 * 4  # at w = 0 every class's mean hinge is 1


def test_xor_is_linear_in_the_product_feature():
    X, y = make_xor(200, noise=0.1, random_state=0)
    features = np.column_stack([X, X[:, 0] * X[:, 1]])
    for model in (LogisticRegression(C=10.0, max_iter=300), LinearSVM(alpha=1e-3, max_iter=300),
                  Perceptron(random_state=0, max_iter=100)):
        assert model.fit(features, y).score(features, y) == 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            assert model.fit(X, y).score(X, y) <= 0.8  # a line gets three corners of four at best


@pytest.mark.parametrize("Model", [Perceptron, LogisticRegression, LinearSVM])
def test_bad_input(Model):
    X, y = digits_pair()
    model = Model().fit(X / 16, y)
    with pytest.raises(ValueError, match="X has 10 features, but .* is expecting 64 features"):
        model.predict(X[:, :10])
    with pytest.raises(ValueError, match="only one class"):
        Model().fit(X, np.zeros(len(X)))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Model().fit(bad, y)
    with pytest.raises(ValueError, match="max_iter"):
        Model(max_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="not fitted"):
        Model().predict(X)


EXPECTED_FAILED_CHECKS = {
    "LogisticRegression": {
        "check_sample_weight_equivalence_on_dense_data":
            "gradient descent stops at its tolerance; weighted and repeated rows give the same objective"
            " but different step sizes, so the fits agree to the solver's tolerance, not the check's 1e-7"},
    "LinearSVM": {
        "check_sample_weight_equivalence_on_dense_data":
            "subgradient descent on the hinge keeps its best iterate after a fixed number of steps; weighted"
            " and repeated rows agree to that accuracy, not the check's 1e-7"},
}


@pytest.mark.parametrize("estimator", [Perceptron(random_state=0, max_iter=50), LogisticRegression(max_iter=300),
                                       LinearSVM(max_iter=200)], ids=lambda e: type(e).__name__)
def test_check_estimator(estimator):
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = estimator_checks.check_estimator(
            estimator, expected_failed_checks=EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {}),
            on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert failed == []
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert all("pandas" in c or "array_api" in c or "not_an_array" in c for c in skipped), skipped
