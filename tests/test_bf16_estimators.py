"""MLPClassifier / MLPRegressor(precision="bf16"): scikit-learn's parameter conventions, the
network's layers, the compiled and Python training loops, files and pickles, and the errors."""
import pickle
import warnings

import numpy as np
import pytest

import fastnn
from fastnn import MLPClassifier, MLPRegressor
from fastnn.datasets import make_xor

ESTIMATORS = [MLPClassifier, MLPRegressor]


def data(n=120, seed=0):
    X, y = make_xor(n, noise=0.2, random_state=seed)
    return X, y  # float64, as most users' data


def fit(estimator, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached: these fits are short on purpose
        return estimator.fit(X, y, **kwargs)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_precision_is_a_parameter_stored_as_given(Estimator):
    clone = pytest.importorskip("sklearn.base").clone
    estimator = Estimator(precision="bf16")
    assert estimator.get_params()["precision"] == "bf16"
    assert Estimator().get_params()["precision"] == "fp32"
    assert clone(estimator).precision == "bf16"
    assert estimator.set_params(precision="fp8").precision == "fp8"  # validated in fit, not here
    with pytest.raises(ValueError, match=r"'precision' parameter of .* must be one of 'fp32', 'bf16'\. Got 'fp8'"):
        estimator.fit(*data())


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_bf16_fits_in_float32_and_refuses_float64(Estimator):
    X, y = data()
    estimator = fit(Estimator((8,), max_iter=5, random_state=0, precision="bf16"), X, y)
    assert estimator.coefs_[0].dtype == np.float32  # float64 X, dtype=None: float32 for bf16
    assert {layer.precision for layer in estimator._network.model} == {"bf16"}
    assert fit(Estimator((8,), max_iter=5, dtype=np.float32, precision="bf16"), X, y).coefs_[0].dtype == np.float32
    with pytest.raises(ValueError, match=r"precision='bf16' computes in float32, but dtype is float64"):
        Estimator(dtype=np.float64, precision="bf16").fit(X, y)
    float64 = fit(Estimator((8,), max_iter=5, warm_start=True, random_state=0), X, y)
    with pytest.raises(ValueError, match=r"precision='bf16'.*fitted network's dtype is float64"):
        float64.set_params(precision="bf16").fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_bf16_fits_are_the_eager_bf16_layers(Estimator, solver):
    """Every solver and loop (compiled epochs for the classifier's SGD/Adam, the Python loop for
    the regressor and L-BFGS) trains on the bf16 layers: bf16 and fp32 fits part after a few
    epochs, by little."""
    X, y = data()
    params = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=8, random_state=0, dtype=np.float32)
    fp32 = fit(Estimator(**params), X, y)
    bf16 = fit(Estimator(**params, precision="bf16"), X, y)
    gap = max(np.abs(a - b).max() for a, b in zip(fp32.coefs_, bf16.coefs_))
    scale = max(np.abs(a).max() for a in fp32.coefs_)
    assert 0 < gap < 0.1 * scale


def test_warm_start_follows_a_changed_precision():
    X, y = data()
    clf = fit(MLPClassifier((8,), max_iter=3, warm_start=True, random_state=0, dtype=np.float32), X, y)
    assert clf._network.precision == "fp32"
    fit(clf.set_params(precision="bf16"), X, y)
    assert {layer.precision for layer in clf._network.model} == {"bf16"}


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_files_and_pickles_keep_precision(Estimator, tmp_path):
    X, y = data()
    estimator = fit(Estimator((8,), max_iter=5, random_state=0, precision="bf16"), X, y)
    path = tmp_path / "est.npz"
    fastnn.save(path, estimator)
    for copy in (fastnn.load(path), pickle.loads(pickle.dumps(estimator))):
        assert copy.precision == "bf16" and copy._network.precision == "bf16"
        np.testing.assert_array_equal(copy.predict(X), estimator.predict(X))


def test_estimator_files_from_before_precision_load_as_fp32(tmp_path):
    from test_bf16_layers import rewrite_manifest
    X, y = data()
    clf = fit(MLPClassifier((8,), max_iter=5, random_state=0, dtype=np.float32), X, y)
    path = tmp_path / "old.npz"
    fastnn.save(path, clf)

    def drop_precision(manifest):
        del manifest["estimator"]["params"]["precision"]
        del manifest["estimator"]["fitted"]["precision"]
    rewrite_manifest(path, drop_precision)
    old = fastnn.load(path)
    assert old.precision == "fp32" and old._network.precision == "fp32"
    np.testing.assert_array_equal(old.predict_proba(X), clf.predict_proba(X))


def test_unpickling_a_network_from_before_precision():
    X, y = data()
    clf = fit(MLPClassifier((8,), max_iter=3, random_state=0), X, y)
    state = clf._network.__getstate__()
    del state["precision"]
    network = type(clf._network).__new__(type(clf._network))
    network.__setstate__(state)
    assert network.precision == "fp32"


# checks that hold a model to float64's results: a bf16 model computes in float32 (as one with
# dtype=np.float32, which fails the same ones), so its predictions are float32 and agree with
# another fit's to float32's rounding, not to rtol=1e-7
FLOAT64_CHECKS = {"check_sample_weight_equivalence_on_dense_data",
                  "check_sample_weight_equivalence_on_sparse_data", "check_regressor_multioutput"}


@pytest.mark.parametrize("Estimator", ESTIMATORS, ids=["MLPClassifier", "MLPRegressor"])
def test_check_estimator_in_bf16(Estimator):
    from test_estimators import scikit_learn_check_results, scikit_learns_check_params
    init_params, per_check = scikit_learns_check_params(Estimator.__name__)
    results = scikit_learn_check_results(Estimator(**init_params, precision="bf16"), per_check)
    failed = {key[0] for key, r in results.items() if r.startswith("failed")}
    assert failed <= FLOAT64_CHECKS, {k: r for k, r in results.items() if k[0] in failed - FLOAT64_CHECKS}
    assert sum(r == "passed" for r in results.values()) > 50
