"""MLPClassifier and MLPRegressor: scikit-learn's estimators of those names, on fastnn's kernels.

Same constructor parameters, methods and fitted attributes as scikit-learn's, so that changing
the import is enough (scikit-learn's own tests for these classes pass against them, see
tests/test_sklearn_mlp_suite.py): the solvers "lbfgs", "sgd" and "adam", `max_fun`, the
regressor's `loss` ("squared_error" or "poisson"), multilabel indicator y, dense or scipy sparse
X, and weights in X's dtype (float32 stays float32, anything else float64). Added: the hidden
activations of fastnn's table without parameters ("gelu", "gelu_tanh", "silu"), `dtype` to
choose the float type instead of following X, and `precision="bf16"` to run the network's
products on bfloat16-rounded operands (float32 weights, gradients and updates; see
fastnn.nn.Linear). The training itself is in _mlp_base.
"""
import numpy as np

from ._base import ClassifierMixin, RegressorMixin, available_if, labels_of, r2_score
from ._mlp_base import BaseMLP
from ._losses import OUTPUT_LOSSES, output_function
from ._state import portable_labels
from ._validation import (Options, check_class_labels, check_consistent_length, check_regression_targets)

__all__ = ["MLPClassifier", "MLPRegressor", "OUTPUT_LOSSES"]


def _stochastic(estimator):
    return estimator.solver != "lbfgs"


def _multilabel_indicator(y, caller):
    """y as a (n, k) array if it is a multilabel indicator (2-D, k >= 2 columns of 0/1), else None."""
    if hasattr(y, "toarray"):
        y = y.toarray()
    if y is None or isinstance(y, (str, bytes)):
        return None
    y = np.asarray(y)
    if y.ndim != 2 or y.shape[1] < 2:
        return None
    if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
        raise ValueError(f"{caller}: Multioutput target data is not supported with label binarization"
                         f" (y of shape {y.shape} is not a 0/1 indicator of labels)")
    return y


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multi-layer perceptron classifier: scikit-learn's MLPClassifier on fastnn's kernels.

    Softmax output and cross-entropy for three or more classes, one logistic output for two (or
    one), a logistic output per label for a multilabel indicator y. Labels may be any sortable
    values (ints, strings); `classes_` holds them sorted.

    >>> from fastnn import MLPClassifier
    >>> from fastnn.datasets import make_xor
    >>> X, y = make_xor(200, noise=0.1, random_state=0)
    >>> clf = MLPClassifier((16,), solver="adam", learning_rate_init=0.05, max_iter=100,
    ...                     random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95, clf.predict_proba(X[:2]).shape
    (True, (2, 2))
    """

    loss = "log_loss"  # scikit-learn's attribute (not a constructor parameter)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dtype=None,
                 precision="fp32"):
        self._set_shared_params(hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                                learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose,
                                warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction,
                                beta_1, beta_2, epsilon, n_iter_no_change, max_fun, dtype,
                                precision)

    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), keeping the weights and the optimiser state of earlier calls.
        `classes` (every label that will ever appear) is required on the first call."""
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError("MLPClassifier.partial_fit: classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _is_multilabel(self):
        return getattr(self, "out_activation_", None) == "logistic" and getattr(self, "n_outputs_", 1) > 1

    def _targets(self, y, X, first_pass, incremental, classes, caller):
        indicator = _multilabel_indicator(y, caller)
        redefine = first_pass or not hasattr(self, "classes_")
        if indicator is not None:
            check_consistent_length(X, indicator, caller)
            labels = np.arange(indicator.shape[1])
            if not redefine and (not self._is_multilabel() or len(self.classes_) != len(labels)):
                raise ValueError(f"{caller}: y is an indicator of {len(labels)} labels, but this model was"
                                 f" fitted on classes {self.classes_}")
            self.classes_, self._fit_multilabel = labels, True
            return indicator.astype(X.dtype), None
        y = check_class_labels(y, caller)
        check_consistent_length(X, y, caller)
        present = np.unique(y)
        labels = self.classes_ if not redefine else present if classes is None else np.unique(np.asarray(classes))
        if len(labels) == 0:
            raise ValueError(f"{caller}: needs samples of at least one class, but classes holds no class at all")
        if not redefine:
            if self._is_multilabel():
                raise ValueError(f"{caller}: this model was fitted on a multilabel indicator y; y has labels"
                                 f" {present}")
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), labels):
                raise ValueError(f"{caller}: classes={classes!r} is not the same as on the first call, {labels!r}")
            if self.warm_start and not incremental and not np.array_equal(present, labels):
                raise ValueError(f"{caller}: warm_start can only be used where `y` has the same classes as in"
                                 f" the previous call to fit. Previously got {labels}, `y` has {present}")
        missing = np.setdiff1d(present, labels)
        if len(missing):
            raise ValueError(f"{caller}: `y` has classes not in `self.classes_`. `self.classes_` has"
                             f" {labels}. 'y' has {present}.")
        self.classes_, self._fit_multilabel = labels, False
        index = np.searchsorted(self.classes_, y)
        if len(self.classes_) <= 2:
            return index.astype(X.dtype).reshape(-1, 1), index
        return index, index

    def _n_outputs(self):
        return len(self.classes_) if self._fit_multilabel or len(self.classes_) > 2 else 1

    def _out_activation(self):
        return "softmax" if len(self.classes_) > 2 and not self._fit_multilabel else "logistic"

    def _stratum_name(self, index):
        """How scikit-learn names class `index` in its split errors: its binarized row as text."""
        if len(self.classes_) <= 2:
            return str(bool(index))
        return " ".join(str(i == index) for i in range(len(self.classes_)))

    def _own_fitted_state(self):
        return {"classes_": portable_labels(self.classes_)}

    def _read_outputs_state(self, reader, n_outputs, out_activation):
        classes = reader.labels("classes_", minimum=1)  # a single class fits too
        expected = (1, "logistic") if len(classes) <= 2 else (len(classes), "softmax")
        multilabel = (len(classes), "logistic")  # an indicator y of len(classes) labels
        if (n_outputs, out_activation) not in (expected, multilabel) or len(classes) == 1 and n_outputs != 1:
            reader.fail("classes_", f"holds {len(classes)} labels, which need n_outputs_={expected[0]} and"
                                    f" out_activation_={expected[1]!r} (or {multilabel[0]} and 'logistic' for a"
                                    f" multilabel y), not {n_outputs} and {out_activation!r}")
        return {"classes_": classes}

    def _validation_score(self, X, targets, sample_weight):
        """Accuracy (of whole rows, for multilabel) on held-out rows, `targets` as _targets made them."""
        if self._is_multilabel():
            hits = (self.predict(X) == targets).all(axis=1)
        else:
            predicted = np.searchsorted(self.classes_, self.predict(X))
            hits = predicted == (targets[:, 0].astype(np.intp) if targets.ndim == 2 else targets)
        return float(np.average(hits, weights=sample_weight))

    def predict(self, X):
        """The most probable class of each row of X, as labels from classes_ (for multilabel, the
        (n_samples, n_labels) 0/1 indicator)."""
        logits = self._forward(X, "MLPClassifier.predict")
        if self._is_multilabel():
            return (logits > 0).astype(np.int64)
        caller = "MLPClassifier.predict"
        if logits.shape[1] > 1:
            return labels_of(self, logits.argmax(axis=1), logits.shape[1], caller)
        if isinstance(self.classes_, np.ndarray) and len(self.classes_) == 1:
            return labels_of(self, np.zeros(len(logits), np.intp), 1, caller, n_labels=1)
        return labels_of(self, (logits[:, 0] > 0).astype(np.intp), 1, caller)

    def predict_proba(self, X):
        """P(class | x), (n_samples, n_classes) in the model's dtype, in the order of classes_;
        rows sum to 1 except for multilabel, where each column is its label's probability."""
        logits = self._forward(X, "MLPClassifier.predict_proba")
        dtype = logits.dtype
        if len(self.classes_) == 1:
            return np.ones_like(logits)
        # numpy in float64, row by row the same whatever the batch (predictions made in chunks,
        # as fastnn.distributed makes them, equal those made at once to the last bit)
        logits = logits.astype(np.float64)
        if self._is_multilabel():
            return np.exp(-np.logaddexp(0, -logits)).astype(dtype, copy=False)
        if logits.shape[1] == 1:  # log σ(−z) = log(1 − σ(z)) and log σ(z), without cancellation
            return np.exp(-np.logaddexp(0, np.hstack([logits, -logits]))).astype(dtype, copy=False)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (shifted / shifted.sum(axis=1, keepdims=True)).astype(dtype, copy=False)

    def predict_log_proba(self, X):
        """log(predict_proba(X)), as scikit-learn defines it."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """A multi-layer perceptron regressor: scikit-learn's MLPRegressor on fastnn's kernels.

    Linear output and half squared error (loss="squared_error"), or an exponential output and
    the half Poisson deviance (loss="poisson", y >= 0); y of shape (n,) or (n, n_outputs).
    `loss` is keyword-only here (scikit-learn 1.9 puts it first among the positional
    parameters; MLPRegressor((32,)) keeps meaning hidden_layer_sizes=(32,)).

    >>> import numpy as np
    >>> from fastnn import MLPRegressor
    >>> X = np.linspace(-np.pi, np.pi, 200).reshape(-1, 1)
    >>> reg = MLPRegressor((32,), activation="tanh", learning_rate_init=0.01, max_iter=500,
    ...                    random_state=0).fit(X, np.sin(X).ravel())
    >>> reg.score(X, np.sin(X).ravel()) > 0.95
    True

    Counts, by L-BFGS on the Poisson deviance (the predictions are means, always positive):

    >>> counts = np.random.default_rng(0).poisson(np.exp(1 + np.sin(X).ravel()))
    >>> poisson = MLPRegressor((8,), loss="poisson", solver="lbfgs", random_state=0).fit(X, counts)
    >>> bool((poisson.predict(X) > 0).all()), poisson.out_activation_
    (True, 'exp')
    """

    _parameter_constraints = {**BaseMLP._parameter_constraints, "loss": [Options("squared_error", "poisson")]}

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error", solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000, dtype=None,
                 precision="fp32"):
        self.loss = loss
        self._set_shared_params(hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                                learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose,
                                warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction,
                                beta_1, beta_2, epsilon, n_iter_no_change, max_fun, dtype,
                                precision)

    @available_if(_stochastic)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), keeping the weights and the optimiser state of earlier calls."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _targets(self, y, X, first_pass, incremental, classes, caller):
        y = check_regression_targets(y, X.dtype, caller)
        check_consistent_length(X, y, caller)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError(f"{caller}: Some value(s) of y are negative which is not allowed for Poisson"
                             " regression.")
        self._fit_outputs = 1 if y.ndim == 1 else y.shape[1]
        return y.reshape(len(y), -1), None

    def _n_outputs(self):
        return self._fit_outputs

    def _out_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _stratum_name(self, index):
        return str(index)

    def _own_fitted_state(self):
        return {}

    def _read_outputs_state(self, reader, n_outputs, out_activation):
        if out_activation not in ("identity", "exp"):
            reader.fail("out_activation_", f"must be 'identity' or 'exp' for a regressor, got {out_activation!r}")
        return {"_fit_outputs": n_outputs}

    def _validation_score(self, X, targets, sample_weight):
        """R² on held-out rows; NaN once the predictions are not finite (a diverging fit)."""
        prediction = self.predict(X)
        if not np.isfinite(prediction).all():
            return np.nan
        return r2_score(targets[:, 0] if self.n_outputs_ == 1 else targets, prediction, sample_weight)

    def predict(self, X):
        """The predicted mean for X in the model's dtype: (n_samples,) for a single target, else
        (n_samples, n_outputs)."""
        logits = self._forward(X, "MLPRegressor.predict")
        output = output_function(self.out_activation_, logits)
        return output.ravel() if self.n_outputs_ == 1 else output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags
