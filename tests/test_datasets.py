import numpy as np
import pytest

from fastnn.datasets import Bunch, load_digits, make_spirals, make_xor


def test_digits_shapes_dtypes_and_class_counts():
    digits = load_digits()
    assert isinstance(digits, Bunch)
    assert digits.data.shape == (1797, 64) and digits.data.dtype == np.float64
    assert digits.target.shape == (1797,) and digits.target.dtype == np.int64
    assert digits.images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(digits.images.reshape(1797, 64), digits.data)
    counts = np.bincount(digits.target)
    assert counts.sum() == 1797 and len(counts) == 10 and counts.min() >= 170
    assert digits.data.min() == 0 and digits.data.max() == 16
    assert np.all(digits.data == np.round(digits.data))
    assert len(digits.feature_names) == 64 and "CC BY 4.0" in digits.DESCR


def test_digits_return_X_y_and_n_class():
    X, y = load_digits(return_X_y=True)
    X2, y2 = load_digits(n_class=2, return_X_y=True)
    assert set(np.unique(y2).tolist()) == {0, 1}
    np.testing.assert_array_equal(X2, X[y < 2])
    assert load_digits(n_class=3).target_names.tolist() == [0, 1, 2]
    for bad in (0, 11, 2.0, True):
        with pytest.raises(ValueError, match="n_class"):
            load_digits(n_class=bad)


def test_digits_equal_scikit_learns():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ours = load_digits()
    theirs = sklearn_datasets.load_digits()
    np.testing.assert_array_equal(ours.data, theirs.data)
    np.testing.assert_array_equal(ours.target, theirs.target)
    np.testing.assert_array_equal(ours.images, theirs.images)
    X, y = sklearn_datasets.load_digits(n_class=4, return_X_y=True)
    X_ours, y_ours = load_digits(n_class=4, return_X_y=True)
    np.testing.assert_array_equal(X_ours, X)
    np.testing.assert_array_equal(y_ours, y)


@pytest.mark.parametrize("n_samples", [1, 5, 7, 200])
def test_xor_shapes_labels_and_balance(n_samples):
    X, y = make_xor(n_samples, noise=0.1, random_state=0)
    assert X.shape == (n_samples, 2) and X.dtype == np.float64
    assert y.shape == (n_samples,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=2)
    assert abs(counts[0] - counts[1]) <= 2


def test_xor_labels_follow_the_corners():
    X, y = make_xor(400, noise=0.0, random_state=1)
    np.testing.assert_array_equal(np.abs(X), 1.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))
    X, y = make_xor(400, noise=0.2, random_state=1)
    assert np.mean(y == (X[:, 0] * X[:, 1] < 0)) > 0.95


@pytest.mark.parametrize("n_classes", [2, 3])
def test_spirals_shapes_radius_and_balance(n_classes):
    X, y = make_spirals(301, n_classes=n_classes, random_state=0)
    assert X.shape == (301, 2) and X.dtype == np.float64 and y.dtype == np.int64
    counts = np.bincount(y, minlength=n_classes)
    assert counts.max() - counts.min() <= 1 and len(counts) == n_classes
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius.max() == pytest.approx(1.0) and radius.min() > 0


def test_spirals_arms_are_rotations_of_each_other():
    X, y = make_spirals(200, n_turns=2.0, shuffle=False, random_state=0)
    arm0, arm1 = X[y == 0], X[y == 1]
    np.testing.assert_allclose(arm1, -arm0, atol=1e-12)  # two arms: half a turn apart


@pytest.mark.parametrize("make", [make_xor, make_spirals])
def test_generators_are_deterministic_given_random_state(make):
    X1, y1 = make(50, noise=0.3, random_state=42)
    X2, y2 = make(50, noise=0.3, random_state=42)
    X3, _ = make(50, noise=0.3, random_state=43)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    X4, _ = make(50, noise=0.3, random_state=np.random.default_rng(42))
    np.testing.assert_array_equal(X1, X4)


@pytest.mark.parametrize("make", [make_xor, make_spirals])
def test_generators_reject_bad_arguments(make):
    with pytest.raises(ValueError, match="n_samples"):
        make(0)
    with pytest.raises(ValueError, match="noise"):
        make(10, noise=-1.0)
    with pytest.raises(ValueError, match="noise"):
        make(10, noise=float("nan"))
    with pytest.raises(TypeError, match="random_state"):
        make(10, random_state="seed")
    with pytest.raises(ValueError, match="random_state"):
        make(10, random_state=-1)


def test_spirals_reject_bad_turns_and_classes():
    with pytest.raises(ValueError, match="n_turns"):
        make_spirals(10, n_turns=0)
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(10, n_classes=1)
