"""The seeds' linear classifiers with scikit-learn's interface: Perceptron, LogisticRegression
(by gradient descent) and LinearSVM (the hinge loss with an L2 penalty).

All three score s = X·Wᵀ + b with W (n_outputs, n_features): one output for two classes (the
second class is the positive one, as in scikit-learn), one per class otherwise (softmax for
LogisticRegression, one-vs-rest for Perceptron and LinearSVM). They compute in float64: these
models are small, and their stopping rules compare exact changes.
"""
import warnings

import numpy as np

from .. import functional as F
from ..datasets._random import check_random_state
from ..linalg import matmul
from ._base import BaseEstimator, ClassifierMixin, ConvergenceWarning, check_is_fitted, labels_of
from ._state import StateReader, portable_labels
from ._validation import (Boolean, Interval, RandomState, check_array, check_class_labels,
                          check_consistent_length, check_n_features, check_sample_weight, check_two_classes,
                          validate_params)


class LinearClassifier(ClassifierMixin, BaseEstimator):
    """What the three share: labels, the decision function, predict."""

    def _check_fit_input(self, X, y, caller, classes=None, reset=True):
        validate_params(self, self._parameter_constraints)
        X = check_array(X, np.float64, caller)
        y = check_class_labels(y, caller)
        check_consistent_length(X, y, caller)
        if reset:
            self.classes_ = check_two_classes(np.unique(y if classes is None else np.asarray(classes)), caller)
            self.n_features_in_ = X.shape[1]
        else:
            check_n_features(self, X, caller)
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if len(unknown):
                raise ValueError(f"{caller}: `y` has classes not in `self.classes_`: {unknown}")
        return X, np.searchsorted(self.classes_, y)

    def _signs(self, index):
        """±1 targets, (n, n_outputs): +1 where the sample is of the output's class."""
        if len(self.classes_) == 2:
            return np.where(index == 1, 1.0, -1.0)[:, None]
        return np.where(index[:, None] == np.arange(len(self.classes_)), 1.0, -1.0)

    def decision_function(self, X):
        """Scores X·coef_ᵀ + intercept_: (n_samples,) for two classes (positive: classes_[1]),
        else (n_samples, n_classes)."""
        check_is_fitted(self, "coef_")
        caller = f"{type(self).__name__}.decision_function"
        X = check_array(X, np.float64, caller)
        check_n_features(self, X, caller)
        scores = matmul(X, self.coef_, trans_b=True)
        scores += self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """The class of each row of X, as labels from classes_."""
        scores = self.decision_function(X)
        index = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return labels_of(self, index, 1 if scores.ndim == 1 else scores.shape[1], f"{type(self).__name__}.predict")

    # ---- fitted state, for fastnn.save / fastnn.load --------------------------------------------
    def _get_fitted_state(self):
        """The fitted attributes as arrays and JSON scalars, or None before fit."""
        if not hasattr(self, "coef_"):
            return None
        state = {"classes_": portable_labels(self.classes_), "n_features_in_": int(self.n_features_in_),
                 "coef_": np.asarray(self.coef_), "intercept_": np.asarray(self.intercept_),
                 "n_iter_": int(self.n_iter_)}
        state.update(self._own_fitted_state())
        return state

    def _set_fitted_state(self, state):
        """Restore what _get_fitted_state returned; ValueError (naming the entry) if it does not
        fit together, in which case nothing is set."""
        reader = StateReader(state, type(self).__name__)
        classes = reader.labels("classes_")
        n_features = reader.integer("n_features_in_", low=1)
        n_outputs = 1 if len(classes) == 2 else len(classes)
        fitted = {"classes_": classes, "n_features_in_": n_features,
                  "coef_": reader.array("coef_", ["float64"], (n_outputs, n_features)),
                  "intercept_": reader.array("intercept_", ["float64"], (n_outputs,)),
                  "n_iter_": reader.integer("n_iter_")}
        fitted.update(self._read_own_fitted_state(reader))
        reader.done()
        self.__dict__.update(fitted)
        return self

    def _own_fitted_state(self):
        """What a subclass adds to the state (its own fitted attributes)."""
        return {}

    def _read_own_fitted_state(self, reader):
        return {}


class Perceptron(LinearClassifier):
    """Rosenblatt's perceptron, as in the seeds: on each mistake y·(w·x + b) ≤ 0, with y ∈ {−1, 1},
    w ← w + eta0·y·x and b ← b + eta0·y; training stops after an epoch with no change (or at
    max_iter). More than two classes: one perceptron per class against the rest.

    The rule is sequential: each update changes the scores of the samples after it. Rather than a
    Python loop over samples, each epoch scores all remaining samples at once (one GEMM), jumps to
    the first mistake, updates, and rescores from there: the same result as the sample-by-sample
    loop, with Python work proportional to the number of mistakes, which falls to zero as the
    perceptron converges.

    `mistakes_per_epoch_` lists the number of updates in each epoch (summed over the classes).

    >>> from fastnn.estimators import Perceptron
    >>> from fastnn.datasets import load_digits
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> clf = Perceptron(random_state=0).fit(X, y)
    >>> clf.score(X, y), clf.mistakes_per_epoch_[-1]
    (1.0, 0)
    """

    _parameter_constraints = {
        "eta0": [Interval("real", 0, None, "neither")],
        "max_iter": [Interval("int", 1, None, "left")],
        "fit_intercept": [Boolean()],
        "shuffle": [Boolean()],
        "random_state": [RandomState()],
        "warm_start": [Boolean()],
    }

    def __init__(self, *, eta0=1.0, max_iter=1000, fit_intercept=True, shuffle=True, random_state=None,
                 warm_start=False):
        self.eta0 = eta0
        self.max_iter = max_iter
        self.fit_intercept = fit_intercept
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start

    def fit(self, X, y):
        """Epochs over (X, y) until one passes without a mistake, or max_iter. Returns self."""
        reset = not (self.warm_start and hasattr(self, "coef_"))
        X, index = self._check_fit_input(X, y, "Perceptron.fit", reset=reset)
        if reset:
            self._start(X.shape[1])
        return self._epochs(X, index, self.max_iter, warn=True)

    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y); `classes` (every label) is required on the first call."""
        first = not hasattr(self, "coef_")
        if first and classes is None:
            raise ValueError("Perceptron.partial_fit: classes must be passed on the first call to partial_fit.")
        X, index = self._check_fit_input(X, y, "Perceptron.partial_fit", classes=classes, reset=first)
        if first:
            self._start(X.shape[1])
        return self._epochs(X, index, 1, warn=False)

    def _start(self, n_features):
        n_outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        self._weights = np.zeros((n_outputs, n_features + 1))  # the last column is the intercept
        self.mistakes_per_epoch_ = []
        self.n_iter_ = 0
        self._expose()

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_weights" in state:  # unpickled: coef_ and intercept_ view the weights again
            self._expose()

    def _expose(self):
        self.coef_ = self._weights[:, :-1]
        self.intercept_ = self._weights[:, -1]

    def _own_fitted_state(self):
        return {"mistakes_per_epoch_": np.array(self.mistakes_per_epoch_, dtype=np.int64)}

    def _read_own_fitted_state(self, reader):
        return {"mistakes_per_epoch_": reader.numbers("mistakes_per_epoch_", "int64")}

    def _set_fitted_state(self, state):
        super()._set_fitted_state(state)
        self._weights = np.hstack([self.coef_, self.intercept_[:, None]])
        self._expose()  # coef_ and intercept_ view the weights partial_fit updates
        return self

    def _epochs(self, X, index, max_epochs, warn):
        rng = check_random_state(self.random_state, "Perceptron")
        augmented = np.hstack([X, np.full((X.shape[0], 1), 1.0 if self.fit_intercept else 0.0)])
        signs = self._signs(index)
        self.n_iter_ = 0
        for _ in range(max_epochs):
            order = rng.permutation(len(X)) if self.shuffle else np.arange(len(X))
            mistakes = sum(self._epoch(augmented[order], signs[order, k], self._weights[k])
                           for k in range(self._weights.shape[0]))
            self.n_iter_ += 1
            self.mistakes_per_epoch_.append(mistakes)
            if mistakes == 0:
                break
        else:
            if warn:
                warnings.warn(f"Perceptron: max_iter ({max_epochs}) reached with mistakes in the last epoch;"
                              " the data may not be linearly separable.", ConvergenceWarning, stacklevel=3)
        return self

    def _epoch(self, X, y, w):
        """One pass of the mistake-driven rule over rows X with targets y ∈ {−1, 1}, updating w in
        place; returns the number of updates."""
        mistakes, start, n = 0, 0, len(X)
        while start < n:
            margins = matmul(X[start:], w[:, None])[:, 0] * y[start:]
            wrong = np.flatnonzero(margins <= 0)
            if len(wrong) == 0:
                break
            j = start + wrong[0]
            w += (self.eta0 * y[j]) * X[j]
            mistakes += 1
            start = j + 1
        return mistakes


class _GradientDescentClassifier(LinearClassifier):
    """Full-batch gradient descent on mean loss + penalty over W (n_outputs, n_features) and b."""

    def fit(self, X, y, sample_weight=None):
        """Minimise the objective on (X, y) by gradient descent. Returns self."""
        caller = f"{type(self).__name__}.fit"
        X, index = self._check_fit_input(X, y, caller)
        weights = check_sample_weight(sample_weight, X.shape[0], caller)
        self._weight_sum = float(X.shape[0] if weights is None else weights.sum())
        weights = np.full(X.shape[0], 1.0 / X.shape[0]) if weights is None else weights / self._weight_sum
        n_outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        W = np.zeros((n_outputs, X.shape[1]))
        b = np.zeros(n_outputs)
        self._minimise(X, index, weights, W, b)
        self.coef_, self.intercept_ = W, b
        return self

    def _scores(self, X, W, b):
        scores = matmul(X, W, trans_b=True)
        scores += b
        return scores

    def _own_fitted_state(self):
        return {"loss_curve_": np.array(self.loss_curve_, dtype=np.float64)}

    def _read_own_fitted_state(self, reader):
        return {"loss_curve_": reader.numbers("loss_curve_", "float64")}


class LogisticRegression(_GradientDescentClassifier):
    """Logistic regression by (Nesterov-accelerated) gradient descent.

    Minimises mean log-loss + ‖W‖² / (2·C·n), the minimiser of scikit-learn's
    ½‖W‖² + C·Σ log-loss (the intercept is not penalised); one logistic output for two classes,
    softmax over one output per class otherwise. The step is 1/L, L the gradient's Lipschitz
    constant (σ_max(X)² times ¼ or ½, from a few power iterations, plus 1/(C·n)); it stops when
    every gradient component is below `tol` or after max_iter steps.

    >>> from fastnn.estimators import LogisticRegression
    >>> from fastnn.datasets import load_digits
    >>> X, y = load_digits(n_class=3, return_X_y=True)
    >>> clf = LogisticRegression(C=0.1).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.98, clf.predict_proba(X[:2] / 16).shape
    (True, (2, 3))
    """

    _parameter_constraints = {
        "C": [Interval("real", 0, None, "neither")],
        "max_iter": [Interval("int", 1, None, "left")],
        "tol": [Interval("real", 0, None, "left")],
    }

    def __init__(self, *, C=1.0, max_iter=1000, tol=1e-5):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def _loss_and_grad(self, scores, index, weights):
        if scores.shape[1] == 1:
            losses, grad = F.binary_cross_entropy_with_logits(
                scores, (index == 1).astype(np.float64)[:, None], reduction="none", return_grad=True)
            losses = losses[:, 0]
        else:
            losses, grad = F.cross_entropy(scores, index, reduction="none", return_grad=True)
        grad *= weights[:, None]
        return float(losses @ weights), grad

    def _minimise(self, X, index, weights, W, b):
        strength = 1.0 / (self.C * self._weight_sum)  # scikit-learn's ½‖W‖² + C·Σ wᵢ·lossᵢ, divided by C·Σw
        # The loss's Hessian is at most curvature · Σ wᵢ·x̃ᵢx̃ᵢᵀ ≤ curvature · max(w) · σ_max(X̃)², with
        # x̃ = (x, 1) for the intercept and σ_max(X̃)² ≤ σ_max(X)² + n.
        curvature = 0.25 if W.shape[0] == 1 else 0.5
        lipschitz = curvature * np.max(weights) * _spread(X, "LogisticRegression.fit") + strength
        step = 1.0 / lipschitz
        theta = np.concatenate([W.ravel(), b])
        previous = theta.copy()
        self.loss_curve_ = []
        for iteration in range(1, self.max_iter + 1):
            # Nesterov's momentum, restarted whenever it points uphill (O'Donoghue and Candès)
            look_ahead = theta + (iteration - 1) / (iteration + 2) * (theta - previous)
            W_la, b_la = look_ahead[:W.size].reshape(W.shape), look_ahead[W.size:]
            loss, grad_scores = self._loss_and_grad(self._scores(X, W_la, b_la), index, weights)
            grad = np.concatenate([(matmul(grad_scores, X, trans_a=True) + strength * W_la).ravel(),
                                   grad_scores.sum(axis=0)])
            self.loss_curve_.append(loss + 0.5 * strength * float(W_la.ravel() @ W_la.ravel()))
            previous, theta = theta, look_ahead - step * grad
            if grad @ (theta - previous) > 0:
                previous = theta.copy()
            if np.max(np.abs(grad)) < self.tol:
                break
        else:
            warnings.warn(f"LogisticRegression: max_iter ({self.max_iter}) reached before the gradient fell"
                          f" below tol={self.tol}.", ConvergenceWarning, stacklevel=3)
        self.n_iter_ = iteration
        if not np.isfinite(theta).all():
            raise ValueError("LogisticRegression.fit: the solver produced non-finite weights; X may "
                             "contain values too large for float64 (scale the features)")
        W[...] = theta[:W.size].reshape(W.shape)
        b[...] = theta[W.size:]

    def predict_proba(self, X):
        """P(class | x), (n_samples, n_classes) in the order of classes_."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = np.exp(-np.logaddexp(0, -scores))
            return np.column_stack([1 - positive, positive])
        return F.softmax(scores)

    def predict_log_proba(self, X):
        """log P(class | x), (n_samples, n_classes)."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return -np.logaddexp(0, np.column_stack([scores, -scores]))
        return F.log_softmax(scores)


class LinearSVM(_GradientDescentClassifier):
    """A linear support-vector machine: minimises λ‖w‖² + mean max(0, 1 − y·(w·x + b)), y ∈ {−1, 1}
    (one machine per class against the rest for more than two classes), λ = `alpha`.

    The hinge is not differentiable, and subgradient descent on it converges slowly; instead the
    hinge is smoothed (Nesterov): its corner rounded over a width μ, which moves it by at most μ/2,
    and the smooth objective minimised by accelerated gradient descent (with restarts), for
    μ = 1 down to `final_smoothing` in four stages of max_iter/4 steps each. The point of lowest
    exact objective is kept (`objective_`); `loss_curve_` holds the exact objective per step.

    >>> from fastnn.estimators import LinearSVM
    >>> from fastnn.datasets import load_digits
    >>> X, y = load_digits(n_class=2, return_X_y=True)
    >>> svm = LinearSVM(alpha=1e-3).fit(X / 16, y)
    >>> svm.score(X / 16, y)
    1.0
    """

    _parameter_constraints = {
        "alpha": [Interval("real", 0, None, "neither")],
        "max_iter": [Interval("int", 4, None, "left")],
        "final_smoothing": [Interval("real", 0, 1, "right")],
    }

    def __init__(self, *, alpha=1e-3, max_iter=1000, final_smoothing=1e-2):
        self.alpha = alpha
        self.max_iter = max_iter
        self.final_smoothing = final_smoothing

    def _minimise(self, X, index, weights, W, b):
        signs = self._signs(index)
        theta = np.concatenate([W.ravel(), b])
        best = theta.copy()
        best_objective = self._objective(X, signs, weights, W, b)
        self.loss_curve_ = []
        # The smoothed hinge's gradient is L-Lipschitz, L = max(w)·σ_max(X̃)²/μ + 2λ (x̃ = (x, 1)).
        spread = np.max(weights) * _spread(X, "LinearSVM.fit")
        smoothings = np.geomspace(1.0, self.final_smoothing, 4)
        steps_left = self.max_iter
        for stage, mu in enumerate(smoothings):
            step = 1.0 / (spread / mu + 2 * self.alpha)
            previous, k = theta.copy(), 0
            for _ in range(steps_left // (len(smoothings) - stage)):
                steps_left -= 1
                k += 1
                look_ahead = theta + (k - 1) / (k + 2) * (theta - previous)
                grad = self._smoothed_gradient(X, signs, weights, look_ahead, W.shape, mu)
                previous, theta = theta, look_ahead - step * grad
                if grad @ (theta - previous) > 0:  # momentum points uphill: restart it
                    previous, k = theta.copy(), 0
                objective = self._objective(X, signs, weights, theta[:W.size].reshape(W.shape), theta[W.size:])
                self.loss_curve_.append(objective)
                if objective < best_objective:
                    best, best_objective = theta.copy(), objective
        self.n_iter_ = self.max_iter
        W[...] = best[:W.size].reshape(W.shape)
        b[...] = best[W.size:]
        self.objective_ = best_objective

    def _own_fitted_state(self):
        return dict(super()._own_fitted_state(), objective_=float(self.objective_))

    def _read_own_fitted_state(self, reader):
        return dict(super()._read_own_fitted_state(reader), objective_=reader.number("objective_"))

    def _objective(self, X, signs, weights, W, b):
        """λ‖W‖² + Σ wᵢ·Σ_k max(0, 1 − y_ik·s_ik), the exact hinge."""
        scores = self._scores(X, W, b)
        losses = F.hinge_loss(scores.ravel(), signs.ravel(), reduction="none").reshape(scores.shape)
        return float(weights @ losses.sum(axis=1)) + self.alpha * float(W.ravel() @ W.ravel())

    def _smoothed_gradient(self, X, signs, weights, theta, shape, mu):
        """The gradient of λ‖W‖² + Σ wᵢ·Σ_k h_μ(y_ik·s_ik), h_μ the hinge with its corner rounded
        over a width μ: h_μ(z) = 1 − z − μ/2 below 1 − μ, (1 − z)²/(2μ) up to 1, 0 beyond
        (so h_μ' = clip((z − 1)/μ, −1, 0) and 0 ≤ hinge − h_μ ≤ μ/2)."""
        size = shape[0] * shape[1]
        W, b = theta[:size].reshape(shape), theta[size:]
        margins = self._scores(X, W, b)
        margins *= signs
        grad_scores = np.clip((margins - 1) / mu, -1.0, 0.0)
        grad_scores *= signs
        grad_scores *= weights[:, None]
        grad_W = matmul(grad_scores, X, trans_a=True)
        grad_W += 2 * self.alpha * W
        return np.concatenate([grad_W.ravel(), grad_scores.sum(axis=0)])


def _spread(X, caller):
    """σ_max(X̃)² ≤ σ_max(X)² + n, x̃ = (x, 1): what the step sizes divide by; ValueError when X's
    scale (|X| near 1e154 and beyond) overflows it, which would make every step 0 or NaN."""
    with np.errstate(over="ignore"):
        spread = _largest_singular_value(X) ** 2 + X.shape[0]
    if not np.isfinite(spread):
        raise ValueError(f"{caller}: X's values (max |X| = {np.max(np.abs(X)):.3g}) are too large: "
                         f"the curvature of the objective overflows float64; scale the features")
    return spread


def _largest_singular_value(X, iterations=30):
    """σ_max(X) by power iteration on XᵀX (starting from a fixed vector: deterministic), run on
    X / scale, scale the power of two nearest max |X|: exact, and XᵀX cannot overflow."""
    largest = float(np.max(np.abs(X), initial=0.0))
    if largest == 0:
        return 0.0
    scale = float(np.ldexp(1.0, int(np.frexp(largest)[1])))
    v = np.ones((X.shape[1], 1)) / np.sqrt(X.shape[1])
    sigma = 0.0
    for _ in range(iterations):
        u = matmul(X, v)
        u /= scale
        v = matmul(X, u, trans_a=True)
        v /= scale
        norm = float(np.linalg.norm(v))
        if norm == 0:
            return 0.0
        sigma = np.sqrt(norm)
        v /= norm
    return sigma * scale * 1.01  # power iteration approaches from below: keep the step safe
