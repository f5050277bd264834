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
            return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))

    class RegressorMixin:
        """score: the (weighted) coefficient of determination R² of predict."""
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None):
            y = np.asarray(y, dtype=np.float64)
            prediction = np.asarray(self.predict(X), dtype=np.float64).reshape(y.shape)
            weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
            if y.ndim == 1:
                y, prediction = y[:, None], prediction[:, None]
            residual = np.average((y - prediction) ** 2, axis=0, weights=weights)
            spread = np.average((y - np.average(y, axis=0, weights=weights)) ** 2, axis=0, weights=weights)
            r2 = np.where(spread > 0, 1 - residual / np.where(spread > 0, spread, 1),
                          np.where(residual == 0, 1.0, 0.0))
            return float(np.mean(r2))


def check_is_fitted(estimator, attribute):
    """NotFittedError unless `estimator` has the fitted attribute `attribute`."""
    if not hasattr(estimator, attribute):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with"
            " appropriate arguments before using this estimator.")


def labels_of(estimator, index, n_scores, caller):
    """classes_[index], after checking classes_ still holds a label per score column (two for a
    single column): a classes_ replaced by hand is a ValueError here, not an IndexError."""
    classes = getattr(estimator, "classes_", None)
    if not isinstance(classes, np.ndarray) or classes.shape != (max(2, n_scores),):
        raise ValueError(f"{caller}: classes_ must be an array of the {max(2, n_scores)} labels the model was "
                         f"fitted with, got {getattr(classes, 'shape', type(classes).__name__)}")
    return classes[index]


__all__ = ["labels_of", "BaseEstimator", "ClassifierMixin", "RegressorMixin", "NotFittedError",
           "ConvergenceWarning", "DataConversionWarning", "HAVE_SKLEARN", "check_is_fitted"]
