"""fastnn.save / fastnn.load for the estimators: exact round trips (predictions, fitted
attributes, parameters), training that continues where it stopped, clear errors for files that
were edited, and pickling (scikit-learn's convention) to the same predictions."""
import io
import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import LinearSVM, LogisticRegression, MLPClassifier, MLPRegressor, Perceptron
from fastnn.datasets import load_digits, make_xor
from fastnn.estimators._base import NotFittedError

from test_io import MANIFEST, assert_load_fails, edit_manifest, npy_bytes, rewritten, trap_array

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # max_iter is small on purpose

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def digits(n_class=3):
    X, y = load_digits(n_class=n_class, return_X_y=True)
    return X[:150] / 16, y[:150]


def xor_with_string_labels():
    X, y = make_xor(120, noise=0.1, random_state=0)
    return X, np.array(["agree", "differ"])[y]


def regression():
    X, _ = digits()
    return X, np.column_stack([X[:, 10] - X[:, 20], X[:, 30] * 2])


# name -> (unfitted estimator, data); each fits in well under a second
CASES = {
    "mlp_adam_3_classes": (lambda: MLPClassifier((8,), max_iter=4, dtype=np.float32, random_state=0), digits),
    "mlp_sgd_nesterov_invscaling_strings": (
        lambda: MLPClassifier((6, 5), activation="tanh", solver="sgd", learning_rate="invscaling",
                              learning_rate_init=0.1, max_iter=4, random_state=1), xor_with_string_labels),
    "mlp_sgd_no_momentum_float64": (
        lambda: MLPClassifier((7,), activation="gelu", solver="sgd", momentum=0.0, max_iter=3,
                              dtype=np.float64, random_state=2), digits),
    "mlp_early_stopping": (
        lambda: MLPClassifier((8,), early_stopping=True, validation_fraction=0.2, max_iter=5,
                              random_state=3), digits),
    "mlp_regressor_adaptive_sgd": (
        lambda: MLPRegressor((9,), activation="logistic", solver="sgd", learning_rate="adaptive",
                             n_iter_no_change=1, tol=10.0, max_iter=4, random_state=4), regression),
    "mlp_regressor_adam_float64": (
        lambda: MLPRegressor((5, 4), max_iter=4, dtype="float64", random_state=5), regression),
    "perceptron_binary": (lambda: Perceptron(max_iter=3, random_state=0), xor_with_string_labels),
    "perceptron_3_classes": (lambda: Perceptron(max_iter=3, eta0=0.5, random_state=0), digits),
    "logistic_binary": (lambda: LogisticRegression(C=0.5, max_iter=20), xor_with_string_labels),
    "logistic_3_classes": (lambda: LogisticRegression(max_iter=20), digits),
    "svm_3_classes": (lambda: LinearSVM(alpha=1e-2, max_iter=20), digits),
}


def fitted(name):
    make, data = CASES[name]
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make().fit(X, y), X, y


def round_trip(tmp_path, estimator):
    path = tmp_path / "estimator.npz"
    fastnn.save(path, estimator)
    return fastnn.load(path)


def fitted_attributes(estimator):
    return {k: v for k, v in vars(estimator).items() if k.endswith("_") and not k.startswith("_")}


def assert_same_value(a, b, what):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, what
        np.testing.assert_array_equal(a, b, err_msg=what)
    elif isinstance(a, list) and a and isinstance(a[0], np.ndarray):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_value(x, y, f"{what}[{i}]")
    else:
        assert type(a) is type(b) and a == b, what


def predictions(estimator, X, y):
    methods = ["predict", "predict_proba", "predict_log_proba", "decision_function"]
    out = {m: getattr(estimator, m)(X) for m in methods if hasattr(estimator, m)}
    out["score"] = estimator.score(X, y)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_predicts_identically(tmp_path, name):
    estimator, X, y = fitted(name)
    copy = round_trip(tmp_path, estimator)
    assert type(copy) is type(estimator)
    assert copy.get_params() == estimator.get_params()
    original, loaded = fitted_attributes(estimator), fitted_attributes(copy)
    assert sorted(loaded) == sorted(original)
    for key in original:
        assert_same_value(original[key], loaded[key], key)
    expected, got = predictions(estimator, X, y), predictions(copy, X, y)
    for method in expected:
        assert_same_value(expected[method], got[method], method)  # bit for bit


@pytest.mark.parametrize("name", ["mlp_adam_3_classes", "mlp_sgd_nesterov_invscaling_strings",
                                  "mlp_sgd_no_momentum_float64", "mlp_regressor_adaptive_sgd",
                                  "perceptron_3_classes"])
def test_partial_fit_continues_as_the_original_would(tmp_path, name):
    estimator, X, y = fitted(name)
    copy = round_trip(tmp_path, estimator)
    for model in (estimator, copy):
        model.partial_fit(X, y)
        model.partial_fit(X[::-1], y[::-1])
    for key, value in fitted_attributes(estimator).items():
        assert_same_value(value, fitted_attributes(copy)[key], key)


@pytest.mark.parametrize("name", ["mlp_adam_3_classes", "mlp_sgd_nesterov_invscaling_strings"])
def test_the_optimiser_state_is_what_makes_the_continuation_exact(tmp_path, name):
    """The control for the test above: with the optimiser started afresh (its moments or momentum
    dropped), the next step differs."""
    estimator, X, y = fitted(name)
    restarted = round_trip(tmp_path, estimator)
    del restarted._optimizer
    estimator.partial_fit(X, y)
    restarted.partial_fit(X, y)
    assert not np.array_equal(estimator.coefs_[0], restarted.coefs_[0])


@pytest.mark.parametrize("name", ["mlp_early_stopping", "mlp_regressor_adaptive_sgd", "perceptron_binary"])
def test_warm_start_fit_continues_as_the_original_would(tmp_path, name):
    estimator, X, y = fitted(name)
    copy = round_trip(tmp_path, estimator)
    for model in (estimator, copy):
        model.set_params(warm_start=True, max_iter=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
    for key, value in fitted_attributes(estimator).items():
        assert_same_value(value, fitted_attributes(copy)[key], key)


@pytest.mark.parametrize("name", sorted(CASES))
def test_unfitted_estimator_round_trips_its_parameters(tmp_path, name):
    make, data = CASES[name]
    estimator = make()
    copy = round_trip(tmp_path, estimator)
    assert type(copy) is type(estimator) and not fitted_attributes(copy)
    params, loaded = estimator.get_params(), copy.get_params()
    assert params == loaded and all(type(params[k]) is type(loaded[k]) for k in params)
    if isinstance(params.get("dtype"), type):
        assert loaded["dtype"] is params["dtype"]  # np.float32 itself, not a dtype equal to it
    X, y = data()
    with pytest.raises(NotFittedError):
        copy.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(copy.fit(X, y).predict(X), estimator.fit(X, y).predict(X))


@pytest.mark.parametrize("dtype", [np.float64, "float32", np.dtype("float64"), float])
def test_every_spelling_of_dtype_comes_back(tmp_path, dtype):
    copy = round_trip(tmp_path, MLPRegressor(dtype=dtype, hidden_layer_sizes=[3, 2]))
    assert copy.dtype is dtype or (copy.dtype == dtype and type(copy.dtype) is type(dtype))
    assert copy.hidden_layer_sizes == [3, 2] and isinstance(copy.hidden_layer_sizes, list)


def test_labels_of_every_kind(tmp_path):
    X, y = make_xor(60, noise=0.1, random_state=0)
    for labels, stored_dtype in [(np.array([3, 7]), np.int64), (np.array([-1.0, 1.0]), np.float64),
                                 (np.array([False, True]), np.bool_), (np.array(["no", "yes"]), np.str_),
                                 (np.array(["no", "yes"], dtype=object), np.str_),
                                 (np.array([10, 20], dtype=object), np.int64)]:
        clf = LogisticRegression(max_iter=5).fit(X, labels[y])
        copy = round_trip(tmp_path, clf)
        assert copy.classes_.dtype.type is stored_dtype and copy.classes_.dtype != object
        assert copy.predict(X).tolist() == clf.predict(X).tolist()


def test_labels_a_file_cannot_hold_are_refused(tmp_path):
    X, y = make_xor(60, noise=0.1, random_state=0)
    clf = Perceptron(max_iter=2).fit(X, y)
    clf.classes_ = np.array([(0, 1), "x"], dtype=object)  # as if fitted on labels of mixed types
    with pytest.raises(TypeError, match="classes_"):
        fastnn.save(tmp_path / "c.npz", clf)
    assert not list(tmp_path.iterdir())


def test_a_generator_as_random_state_is_refused_with_the_fix(tmp_path):
    X, y = make_xor(60, noise=0.1, random_state=0)
    for random_state in (np.random.default_rng(0), np.random.RandomState(0)):
        clf = MLPClassifier((4,), max_iter=2, random_state=random_state).fit(X, y)
        with pytest.raises(TypeError, match=r"random_state.*int seed or None"):
            fastnn.save(tmp_path / "c.npz", clf)
        assert not list(tmp_path.iterdir())
        fastnn.save(tmp_path / "c.npz", clf.set_params(random_state=None))  # the fix the message gives
        np.testing.assert_array_equal(fastnn.load(tmp_path / "c.npz").predict_proba(X), clf.predict_proba(X))
        os.unlink(tmp_path / "c.npz")


def test_only_fastnns_own_estimators_are_saved(tmp_path):
    class Mine(Perceptron):
        pass

    with pytest.raises(TypeError, match="Mine.*fastnn's own estimators"):
        fastnn.save(tmp_path / "m.npz", Mine())
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    with pytest.raises(TypeError, match="sklearn.*fastnn's own estimators"):
        fastnn.save(tmp_path / "m.npz", sklearn_linear.Perceptron())
    assert not list(tmp_path.iterdir())


def test_file_is_an_npz_of_named_arrays_and_plain_json(tmp_path):
    clf, X, y = fitted("mlp_adam_3_classes")
    fastnn.save(tmp_path / "m.npz", clf)
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["coefs_.0"], clf.coefs_[0])
        np.testing.assert_array_equal(npz["intercepts_.1"], clf.intercepts_[1])
        np.testing.assert_array_equal(npz["classes_"], clf.classes_)
        assert npz["optimizer.exp_avg"].shape == clf._network.params.shape
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:
        manifest = json.loads(archive.read(MANIFEST))
    assert manifest["kind"] == "estimator" and manifest["estimator"]["type"] == "MLPClassifier"
    assert manifest["estimator"]["params"]["hidden_layer_sizes"] == {"tuple": [8]}
    assert manifest["estimator"]["fitted"]["n_iter_"] == clf.n_iter_


def test_into_is_for_modules(tmp_path):
    fastnn.save(tmp_path / "p.npz", Perceptron())
    with pytest.raises(ValueError, match="into= is for modules"):
        fastnn.load(tmp_path / "p.npz", into=fastnn.nn.Linear(2, 2))
    fastnn.save(tmp_path / "l.npz", fastnn.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="into= must be a fastnn.nn module"):
        fastnn.load(tmp_path / "l.npz", into=Perceptron())


# ---------------------------------------------------------------- damaged and hostile files

def saved(tmp_path, name="mlp_adam_3_classes"):
    path = tmp_path / "good.npz"
    fastnn.save(path, fitted(name)[0])
    return path.read_bytes()


def forged(data, name, array):
    """`data` with the array `name` replaced by (or, if new, added as) `array`, the manifest's
    dtype, shape and SHA-256 updated to match: a forger who knows the format."""
    from fastnn.io import _digest, _dtype_text
    entry = {"dtype": _dtype_text(array.dtype), "shape": list(array.shape), "sha256": _digest(array)}
    member = name + ".npy"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        present = member in archive.namelist()
    change = edit_manifest(lambda m: m["arrays"].__setitem__(name, entry))
    if present:
        change[member] = lambda content: npy_bytes(array)
        return rewritten(data, change=change)
    return rewritten(data, change=change, add={member: npy_bytes(array)})


def fitted_edit(key, value):
    return lambda m: m["estimator"]["fitted"].__setitem__(key, value)


def param_edit(key, value):
    return lambda m: m["estimator"]["params"].__setitem__(key, value)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["estimator"].__setitem__("type", "os.system"), "not one fastnn loads"),
    (lambda m: m["estimator"].__setitem__("type", "MLP"), "not one fastnn loads"),
    (lambda m: m["estimator"].__setitem__("code", "print(1)"), "type, params and fitted"),
    (param_edit("activation", "evil"), "'activation' parameter"),
    (param_edit("hidden_layer_sizes", {"tuple": [8, -1]}), "'hidden_layer_sizes' parameter"),
    (param_edit("dtype", {"numpy_type": "object"}), "not a value fastnn writes"),
    (param_edit("dtype", {"__reduce__": ["os.system", "ls"]}), "not a value fastnn writes"),
    (param_edit("dtype", "O"), "'dtype' parameter"),
    (param_edit("max_iter", 10**400), "parameter 'max_iter': 1000.* is out of range"),
    (param_edit("hidden_layer_sizes", [2**63]), "parameter 'hidden_layer_sizes'.* is out of range"),
    (param_edit("extra", 1), "parameters must be"),
    (lambda m: m["estimator"]["params"].pop("alpha"), "parameters must be"),
    (fitted_edit("n_features_in_", 5), r"'coefs_\.0' must have shape \(5, 'any'\)"),
    (fitted_edit("n_outputs_", 1), "n_outputs_=3"),
    (fitted_edit("out_activation_", "identity"), "out_activation_='softmax'"),
    (fitted_edit("n_layers_", 4), r"'coefs_\.2' is missing"),
    (fitted_edit("n_layers_", 10**9), r"'coefs_\.2' is missing"),
    (fitted_edit("activation", "exec"), "'activation' must be one of"),
    (fitted_edit("loss_", "1.0"), "'loss_' must be a number"),
    (fitted_edit("n_iter_", -1), "'n_iter_' must be an int >= 0"),
    (fitted_edit("optimizer", "lbfgs"), "'optimizer' must be one of"),
    (fitted_edit("optimizer.beta_2", 1.5), "betas"),
    (fitted_edit("optimizer.t", 0), "'optimizer.t'"),
    (fitted_edit("surprise", 1), r"unexpected entries \['surprise'\]"),
    (fitted_edit("classes_", [0, 1, 2]), "appear both as arrays and in the description"),
    (lambda m: m["estimator"]["fitted"].pop("t_"), "'t_' is missing"),
    (lambda m: m["estimator"].__setitem__("fitted", "yes"), "fitted must be an object or null"),
    (lambda m: m["estimator"].__setitem__("fitted", None), "is not fitted, yet the file holds arrays"),
    (lambda m: m["arrays"]["classes_"].__setitem__("dtype", "object"), r"'classes_': dtype must be"),
    (lambda m: m["arrays"]["classes_"].__setitem__("dtype", "<U99999999"), r"'classes_': dtype must be"),
    (lambda m: m.__setitem__("kind", "pickle"), "incomplete"),
])
def test_edited_description(tmp_path, edit, match):
    assert_load_fails(tmp_path, rewritten(saved(tmp_path), change=edit_manifest(edit)), match)


@pytest.mark.parametrize("name, array, match", [
    ("classes_", np.array([0, 1, 2, 3]), "needs? n_outputs_=|holds 4 labels"),
    ("classes_", np.array([2, 1, 0]), "increasing order"),
    ("classes_", np.array([0, 0, 1]), "increasing order"),
    ("classes_", np.array([[0, 1, 2]]), "1-D array"),
    ("classes_", np.array([0.0, np.nan, 2.0]), "increasing order"),
    ("coefs_.0", np.zeros((64, 9), np.float32), r"'intercepts_\.0' must have shape \(9,\)"),
    ("coefs_.0", np.zeros((63, 8), np.float32), r"'coefs_\.0' must have shape \(64, 'any'\)"),
    ("coefs_.0", np.zeros((64, 8), np.int64), r"'coefs_\.0' must have dtype"),
    ("coefs_.1", np.zeros((8, 3), np.float64), r"'coefs_\.1' must have dtype float32"),
    ("intercepts_.1", np.zeros(4, np.float32), r"'intercepts_\.1' must have shape \(3,\)"),
    ("optimizer.exp_avg", np.zeros(5, np.float32), r"'optimizer\.exp_avg' must have shape"),
    ("coefs_.2", np.zeros((3, 3), np.float32), r"unexpected entries \['coefs_\.2'\]"),
])
def test_arrays_that_do_not_fit_the_estimator(tmp_path, name, array, match):
    assert_load_fails(tmp_path, forged(saved(tmp_path), name, array), match)


def test_linear_model_arrays_that_do_not_fit(tmp_path):
    data = saved(tmp_path, "svm_3_classes")
    assert_load_fails(tmp_path, forged(data, "coef_", np.zeros((2, 64))), r"'coef_' must have shape \(3, 64\)")
    assert_load_fails(tmp_path, forged(data, "intercept_", np.zeros(3, np.float32)), "'intercept_' must have dtype")
    assert_load_fails(tmp_path, forged(data, "classes_", np.array([0, 1])), r"'coef_' must have shape \(1, 64\)")
    assert_load_fails(tmp_path, rewritten(data, change=edit_manifest(fitted_edit("objective_", None))),
                      "'objective_' must be a number")


def test_missing_and_altered_arrays(tmp_path):
    data = saved(tmp_path)
    dropped = rewritten(data, drop={"optimizer.exp_avg_sq.npy"},
                        change=edit_manifest(lambda m: m["arrays"].pop("optimizer.exp_avg_sq")))
    assert_load_fails(tmp_path, dropped, r"'optimizer\.exp_avg_sq' is missing")

    def perturb(content):
        array = np.lib.format.read_array(io.BytesIO(content))
        array.flat[3] += 1
        return npy_bytes(array)
    assert_load_fails(tmp_path, rewritten(data, change={"coefs_.1.npy": perturb}), r"'coefs_\.1'.*altered")
    assert_load_fails(tmp_path, data[:len(data) // 2], "truncated or corrupted")


def test_an_npy_header_that_disagrees_with_the_description_is_refused_before_reading(tmp_path):
    buffer = io.BytesIO()  # a header claiming 10^12 labels, followed by the 3 the manifest lists
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<i8", "fortran_order": False,
                                                  "shape": (10**12,)})
    member = buffer.getvalue() + np.arange(3, dtype=np.int64).tobytes()
    data = rewritten(saved(tmp_path), change={"classes_.npy": lambda c: member})
    assert_load_fails(tmp_path, data, r"'classes_': the file holds int64 \(1000000000000,\)")


def test_an_object_array_in_an_estimator_file_is_never_unpickled(tmp_path):
    marker = tmp_path / "code-ran"
    payload = trap_array(marker, length=3)
    data = rewritten(saved(tmp_path), change={"classes_.npy": lambda c: npy_bytes(payload, True)})
    assert_load_fails(tmp_path, data, r"'classes_'")
    data = rewritten(saved(tmp_path), change=edit_manifest(
        lambda m: m["arrays"]["classes_"].__setitem__("dtype", "|O")))
    assert_load_fails(tmp_path, data, r"'classes_'")
    assert not marker.exists()


# ---------------------------------------------------------------- pickling, as scikit-learn's do

@pytest.mark.parametrize("name", sorted(CASES))
def test_pickle_round_trip_predicts_and_trains_identically(name):
    estimator, X, y = fitted(name)
    copy = pickle.loads(pickle.dumps(estimator))
    expected, got = predictions(estimator, X, y), predictions(copy, X, y)
    for method in expected:
        assert_same_value(expected[method], got[method], method)
    if hasattr(estimator, "partial_fit") and not estimator.get_params().get("early_stopping"):
        estimator.partial_fit(X, y)
        copy.partial_fit(X, y)
        assert_same_value(estimator.predict(X), copy.predict(X), "predict after partial_fit")
        assert_same_value(estimator.coef_ if hasattr(estimator, "coef_") else estimator.coefs_,
                          copy.coef_ if hasattr(copy, "coef_") else copy.coefs_, "weights after partial_fit")


def test_save_and_load_without_scikit_learn(tmp_path):
    script = f"""
import sys, warnings
sys.modules['sklearn'] = None  # any import of scikit-learn now fails
warnings.simplefilter('ignore')
import numpy as np, fastnn
from fastnn.estimators import _base
assert not _base.HAVE_SKLEARN
from fastnn.datasets import make_xor
X, y = make_xor(80, noise=0.1, random_state=0)
path = {str(tmp_path / "e.npz")!r}
for est in (fastnn.MLPClassifier((4,), max_iter=3, random_state=0), fastnn.LinearSVM(max_iter=8)):
    fastnn.save(path, est)
    assert fastnn.load(path).get_params() == est.get_params()
    est.fit(X, y)
    fastnn.save(path, est)
    assert (fastnn.load(path).predict(X) == est.predict(X)).all()
print('ok')
"""
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
