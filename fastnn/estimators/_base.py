"""scikit-learn's estimator base classes when it is installed, a small stand-in when it is not.

With scikit-learn present our estimators *are* scikit-learn estimators (clone, Pipeline,
GridSearchCV, check_estimator); without it they keep the same interface: get_params, set_params,
score, and errors of the same types.
"""
import inspect

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised by the tests' "no scikit-learn" subprocess
    HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before `fit`."""

    class ConvergenceWarning(UserWarning):
        """The optimiser stopped at max_iter before the stopping rule was met."""

    class DataConversionWarning(UserWarning):
        """The input was converted: a column-vector y raveled to 1-D."""

    class BaseEstimator:
        """get_params / set_params from the constructor's signature, as scikit-learn defines them."""

        @classmethod
        def _get_param_names(cls):
            signature = inspect.signature(cls.__init__)
            return sorted(p.name for p in signature.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            params = {}
            for name in self._get_param_names():
                value = getattr(self, name)
                if deep and hasattr(value, "get_params") and not isinstance(value, type):
                    params.update((f"{name}__{k}", v) for k, v in value.get_params().items())
                params[name] = value
            return params

        def set_params(self, **params):
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(
                        f"Invalid parameter {name!r} for estimator {type(self).__name__}."
                        f" Valid parameters are: {valid!r}.")
                setattr(self, name, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
            return f"{type(self).__name__}({args})"

    class ClassifierMixin:
        """score: the (weighted) accuracy of predict."""
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None):
            hits = self.predict(X) == np.asarray(y)
            if hits.ndim == 2:  # multilabel: a row counts when every label is right
                hits = hits.all(axis=1)
            return float(np.average(hits, weights=sample_weight))

    class RegressorMixin:
        """score: the (weighted) coefficient of determination R² of predict."""
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            return r2_score(y, self.predict(X), sample_weight)


def r2_score(y, prediction, sample_weight=None):
    """The (weighted) coefficient of determination R², averaged over outputs, as scikit-learn
    computes it (a constant target scores 1 if predicted exactly, else 0)."""
    y = np.asarray(y, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64).reshape(y.shape)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if y.ndim == 1:
        y, prediction = y[:, None], prediction[:, None]
    residual = np.average((y - prediction) ** 2, axis=0, weights=weights)
    spread = np.average((y - np.average(y, axis=0, weights=weights)) ** 2, axis=0, weights=weights)
    r2 = np.where(spread > 0, 1 - residual / np.where(spread > 0, spread, 1),
                  np.where(residual == 0, 1.0, 0.0))
    return float(np.mean(r2))


class available_if:
    """Decorates a method that exists only while check(estimator) is true: otherwise reading it
    raises AttributeError, so hasattr is False (scikit-learn's partial_fit under
    solver="lbfgs")."""

    def __init__(self, check):
        self.check = check

    def __call__(self, method):
        self.method = method
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__
        return self

    def __get__(self, estimator, owner=None):
        if estimator is None:
            return self.method
        if not self.check(estimator):
            raise AttributeError(f"{type(estimator).__name__} has no attribute {self.__name__!r} with"
                                 f" solver={estimator.solver!r}: only the stochastic solvers train"
                                 " incrementally")
        return self.method.__get__(estimator, owner)


def check_is_fitted(estimator, attribute):
    """NotFittedError unless `estimator` has the fitted attribute `attribute`."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with"
            " appropriate arguments before using this estimator.")


def labels_of(estimator, index, n_scores, caller, n_labels=None):
    """classes_[index], after checking classes_ still holds a label per score column (two for a
    single column, or `n_labels` when given): a classes_ replaced by hand is a ValueError here,
    not an IndexError."""
    expected = max(2, n_scores) if n_labels is None else n_labels
    classes = getattr(estimator, "classes_", None)
    if not isinstance(classes, np.ndarray) or classes.shape != (expected,):
        raise ValueError(f"{caller}: classes_ must be an array of the {expected} labels the model was "
                         f"fitted with, got {getattr(classes, 'shape', type(classes).__name__)}")
    return classes[index]


__all__ = ["labels_of", "BaseEstimator", "ClassifierMixin", "RegressorMixin", "NotFittedError",
           "ConvergenceWarning", "DataConversionWarning", "HAVE_SKLEARN", "available_if", "check_is_fitted",
           "r2_score"]
