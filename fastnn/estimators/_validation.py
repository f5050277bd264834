"""Input and parameter checks, in one place, with scikit-learn's wording where it has one."""
import numbers
import warnings

import numpy as np

from ._base import DataConversionWarning


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter outside its allowed values (both a ValueError and a TypeError,
    as scikit-learn's is)."""


class Interval:
    """Numbers of `kind` ("int" or "real") between `low` and `high` (None: unbounded),
    `closed` one of "left", "right", "both", "neither"."""

    def __init__(self, kind, low, high, closed):
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def accepts(self, value):
        if isinstance(value, bool):
            return False
        if self.kind == "int" and not isinstance(value, numbers.Integral):
            return False
        if not isinstance(value, numbers.Real) or np.isnan(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self):
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{'an int' if self.kind == 'int' else 'a float'} in the range {left}{low}, {high}{right}"


class Options:
    """One of a fixed set of values (strings, or special numbers such as inf)."""

    def __init__(self, *values):
        self.values = values

    def accepts(self, value):
        return any(type(value) is type(v) and value == v for v in self.values)

    def __str__(self):
        return "one of " + ", ".join(repr(v) for v in self.values)


class Boolean:
    def accepts(self, value):
        return isinstance(value, (bool, np.bool_))

    def __str__(self):
        return "an instance of 'bool'"


class RandomState:
    def accepts(self, value):
        return (value is None or isinstance(value, (np.random.Generator, np.random.RandomState))
                or isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0)

    def __str__(self):
        return "None, an int >= 0, or a numpy Generator or RandomState"


class LayerSizes:
    def accepts(self, value):
        sizes = [value] if isinstance(value, numbers.Integral) else value
        try:
            return all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in sizes)
        except TypeError:
            return False

    def __str__(self):
        return "an int >= 1 or a sequence of ints >= 1"


class FloatDtype:
    """float32 or float64, or None: follow X (float32 stays float32, anything else is float64)."""

    def accepts(self, value):
        try:
            return value is None or np.dtype(value) in (np.float32, np.float64)
        except TypeError:
            return False

    def __str__(self):
        return "float32, float64 or None"


def model_dtype(requested, X):
    """The dtype a model fitted on X computes in: `requested`, or with None X's own as
    scikit-learn picks it (float32 stays float32, every other input becomes float64)."""
    if requested is not None:
        return np.dtype(requested)
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(X).dtype
        except (TypeError, ValueError):
            return np.dtype(np.float64)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def validate_params(estimator, constraints):
    """Every parameter named in `constraints` must satisfy one of its constraints."""
    for name, allowed in constraints.items():
        value = getattr(estimator, name)
        if not any(c.accepts(value) for c in allowed):
            expected = " or ".join(str(c) for c in allowed)
            raise InvalidParameterError(
                f"The {name!r} parameter of {type(estimator).__name__} must be {expected}."
                f" Got {value!r} instead.")


def as_layer_sizes(hidden_layer_sizes):
    """hidden_layer_sizes as a list of ints (an int means one hidden layer)."""
    if isinstance(hidden_layer_sizes, numbers.Integral):
        return [int(hidden_layer_sizes)]
    return [int(s) for s in hidden_layer_sizes]


def check_array(X, dtype, caller, name="X", accept_sparse=False):
    """X as a C-contiguous 2-D array of `dtype` with at least one sample and one feature, and
    only finite values; raises as scikit-learn's check_array does. With `accept_sparse`, a
    scipy sparse X becomes CSR of `dtype` (never dense)."""
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        if not accept_sparse:
            raise TypeError(
                f"{caller}: a sparse matrix was passed, but dense data is required."
                " Use X.toarray() to convert to a dense numpy array.")
        return _check_sparse(X, dtype, caller, name)
    if X is None:
        raise ValueError(f"{caller}: expected a 2-D array for {name}, got None")
    X = np.asarray(X)
    if np.iscomplexobj(X):
        raise ValueError(f"{caller}: Complex data not supported ({name} has dtype {X.dtype})")
    if X.dtype.kind not in "fiub":
        X = X.astype(np.float64)  # object arrays of numbers; anything else raises TypeError here
    if X.ndim != 2:
        raise ValueError(
            f"{caller}: Expected 2D array for {name}, got {X.ndim}D array instead (shape {X.shape})."
            " Reshape your data with X.reshape(-1, 1) if it has a single feature, or"
            " X.reshape(1, -1) if it is a single sample.")
    if X.shape[0] < 1:
        raise ValueError(f"{caller}: Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
    if X.shape[1] < 1:
        raise ValueError(f"{caller}: Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    X = np.require(X, dtype, ("C_CONTIGUOUS", "ALIGNED"))
    if not np.isfinite(X).all():
        what = "NaN" if np.isnan(X).any() else "infinity"
        raise ValueError(f"{caller}: Input {name} contains {what}; NaN and inf are not supported.")
    return X


def _check_sparse(X, dtype, caller, name):
    X = X.tocsr()
    if X.ndim != 2:
        raise ValueError(f"{caller}: Expected 2D array for {name}, got {X.ndim}D (shape {X.shape})")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{caller}: Found array with shape {X.shape} while a minimum of 1 sample and 1"
                         " feature is required.")
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{caller}: sparse {name} must hold numbers, got {X.dtype}")
    if X.dtype != dtype:
        X = X.astype(dtype)
    if not np.isfinite(X.data).all():
        what = "NaN" if np.isnan(X.data).any() else "infinity"
        raise ValueError(f"{caller}: Input {name} contains {what}; NaN and inf are not supported.")
    return X


def check_n_features(estimator, X, caller):
    """At predict time, X must have the features the estimator was fitted on."""
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"{caller}: X has {X.shape[1]} features, but {type(estimator).__name__} is expecting"
            f" {estimator.n_features_in_} features as input.")


def check_consistent_length(X, y, caller):
    if len(y) != X.shape[0]:
        raise ValueError(
            f"{caller}: Found input variables with inconsistent numbers of samples: [{X.shape[0]}, {len(y)}]"
            f" (X has shape {X.shape}, y has shape {np.shape(y)})")


def column_or_1d(y, caller):
    """y as a 1-D array; a column vector is raveled with a DataConversionWarning."""
    if y is None:
        raise ValueError(f"{caller}: requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape"
            " of y to (n_samples, ), for example using ravel().", DataConversionWarning, stacklevel=3)
        return y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{caller}: y should be a 1d array, got an array of shape {y.shape} instead.")
    return y


def check_class_labels(y, caller):
    """y as 1-D class labels: strings, integers, or floats holding integer values."""
    y = column_or_1d(y, caller)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{caller}: Input y contains NaN or infinity.")
        if np.any(y != np.round(y)):
            raise ValueError(f"{caller}: Unknown label type: continuous. Class labels must be"
                             " integers or strings; use a regressor for real-valued targets.")
    elif y.dtype.kind == "c":
        raise ValueError(f"{caller}: Complex data not supported in y")
    elif y.dtype.kind == "O":
        kinds = {type(v) for v in y.tolist()}
        if not (kinds <= {str} or all(issubclass(k, numbers.Integral) for k in kinds)):
            raise ValueError(f"{caller}: Unknown label type: y mixes {sorted(k.__name__ for k in kinds)};"
                             " class labels must be all strings or all integers.")
    return y


def check_two_classes(labels, caller):
    """`labels` (the sorted distinct classes), if there are at least two; else ValueError."""
    if len(labels) < 2:
        found = f"only one class: {labels[0]!r}" if len(labels) else "no class at all"
        raise ValueError(f"{caller}: needs samples of at least 2 classes in the data, but the data contains {found}")
    return labels


def check_regression_targets(y, dtype, caller):
    """y as a float array (n,) or (n, k), finite."""
    if y is None:
        raise ValueError(f"{caller}: requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.dtype.kind not in "fiub":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{caller}: y must be numeric for regression, got dtype {y.dtype}") from error
    if y.ndim not in (1, 2):
        raise ValueError(f"{caller}: y should be 1-D or 2-D, got shape {y.shape}")
    y = np.asarray(y, dtype=dtype)
    if not np.isfinite(y).all():
        raise ValueError(f"{caller}: Input y contains NaN or infinity.")
    return y


def check_sample_weight(sample_weight, n_samples, caller):
    """sample_weight as a float64 array (n_samples,) of finite values >= 0, or None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real):
        return np.full(n_samples, float(sample_weight))
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"{caller}: sample_weight.shape == {sample_weight.shape}, expected {(n_samples,)}!")
    if not np.isfinite(sample_weight).all():
        raise ValueError(f"{caller}: sample_weight contains NaN or infinity.")
    if np.any(sample_weight < 0):
        raise ValueError(f"{caller}: sample_weight must be >= 0 (negative weights are not supported).")
    if n_samples and not np.any(sample_weight):
        raise ValueError(f"{caller}: Sample weights must contain at least one non-zero number.")
    return sample_weight
