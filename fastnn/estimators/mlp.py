"""MLPClassifier and MLPRegressor: scikit-learn's estimators of those names, on fastnn's kernels.

Same constructor parameters, methods and fitted attributes as scikit-learn's, so that changing
the import is enough; the solvers are "sgd" and "adam" (no "lbfgs"), "gelu" joins the hidden
activations, and `dtype` (float32 by default) sets the precision of the weights and the compute.
The training follows scikit-learn's definitions: Glorot-uniform initialisation, loss = mean
(sample-weighted) data loss + alpha/2 · ‖W‖² / Σ(batch weights), its SGD/Adam updates and
learning-rate schedules, its stopping rule, and early stopping on a held-out (stratified)
validation_fraction that restores the best weights.
"""
import math
import time
import warnings

import numpy as np

from .. import functional as F
from ..datasets._random import check_random_state
from ._base import BaseEstimator, ClassifierMixin, ConvergenceWarning, RegressorMixin, check_is_fitted, labels_of
from ._network import HIDDEN_ACTIVATIONS, DenseNetwork
from ._optimizers import SGD, Adam
from ._progress import EpochReporter
from ._state import StateReader, portable_labels
from ._validation import (Boolean, FloatDtype, Interval, LayerSizes, Options, RandomState, as_layer_sizes,
                          check_array, check_class_labels, check_consistent_length, check_n_features,
                          check_regression_targets, check_sample_weight, check_two_classes, validate_params)


def _softmax_cross_entropy(logits, classes):
    """Per-sample −log softmax(z)[class] (fused log-sum-exp) and its gradient softmax(z) − onehot."""
    return F.cross_entropy(logits, classes, reduction="none", return_grad=True)


def _logistic_cross_entropy(logits, targets):
    """Per-sample log(1 + e^z) − y·z and its gradient σ(z) − y, for one logistic output."""
    losses, grad = F.binary_cross_entropy_with_logits(logits, targets, reduction="none", return_grad=True)
    return losses[:, 0], grad


def _half_squared_error(outputs, targets):
    """Per-sample ½·mean over outputs of (ŷ − y)², and ŷ − y: scikit-learn's squared loss, whose
    reported value averages over outputs while its gradient is that of the sum over them (the
    two agree for one output); kept so that training matches scikit-learn's step for step."""
    squares, grad = F.mse_loss(outputs, targets, reduction="none", return_grad=True)
    grad *= 0.5
    return 0.5 * squares.mean(axis=1), grad


OUTPUT_LOSSES = {"softmax": _softmax_cross_entropy, "logistic": _logistic_cross_entropy,
                 "identity": _half_squared_error}


class BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: validation, the training loop, the solvers."""

    # The other processes of a data-parallel fit (fastnn.distributed.fit sets it for the call):
    # broadcast(params), total(*numbers) over every rank, batches(n, batch_size, order) with the
    # same count on every rank, sum_gradients(grads) in place, and this process's rank.
    _peers = None

    _parameter_constraints = {
        "hidden_layer_sizes": [LayerSizes()],
        "activation": [Options(*HIDDEN_ACTIVATIONS)],
        "solver": [Options("sgd", "adam")],
        "alpha": [Interval("real", 0, None, "left")],
        "batch_size": [Options("auto"), Interval("int", 1, None, "left")],
        "learning_rate": [Options("constant", "invscaling", "adaptive")],
        "learning_rate_init": [Interval("real", 0, None, "neither")],
        "power_t": [Interval("real", 0, None, "left")],
        "max_iter": [Interval("int", 1, None, "left")],
        "shuffle": [Boolean()],
        "random_state": [RandomState()],
        "tol": [Interval("real", 0, None, "left")],
        "verbose": [Boolean(), Interval("int", 0, None, "left")],
        "warm_start": [Boolean()],
        "momentum": [Interval("real", 0, 1, "both")],
        "nesterovs_momentum": [Boolean()],
        "early_stopping": [Boolean()],
        "validation_fraction": [Interval("real", 0, 1, "left")],
        "beta_1": [Interval("real", 0, 1, "left")],
        "beta_2": [Interval("real", 0, 1, "left")],
        "epsilon": [Interval("real", 0, None, "neither")],
        "n_iter_no_change": [Interval("int", 1, None, "left"), Options(math.inf)],
        "dtype": [FloatDtype()],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype=np.float32):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype

    # ---- what the subclasses define -----------------------------------------------------------
    # _targets(y, X, first_pass, incremental, classes, caller) -> (targets for the loss,
    #     class indices to stratify the validation split by, or None)
    # _n_outputs(), _out_activation(), _validation_score(X, targets, sample_weight)

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) for up to max_iter epochs (continuing from the current weights and
        optimiser state if warm_start is set). Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        name = type(self).__name__
        caller = f"{name}.{'partial_fit' if incremental else 'fit'}"
        validate_params(self, self._parameter_constraints)
        if incremental and self.early_stopping:
            raise ValueError(f"{caller}: partial_fit does not support early_stopping=True")
        dtype = np.dtype(self.dtype)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X = check_array(X, dtype, caller)
        targets, stratify = self._targets(y, X, first_pass, incremental, classes, caller)
        sample_weight = check_sample_weight(sample_weight, X.shape[0], caller)
        rng = check_random_state(self.random_state, caller)
        layer_units = [X.shape[1]] + as_layer_sizes(self.hidden_layer_sizes) + [self._n_outputs()]
        if first_pass:
            self._initialize(layer_units, dtype, rng)
        else:
            check_n_features(self, X, caller)
            self._sync_network()
            network = self._network
            if network.layer_units != layer_units or network.activation != self.activation or network.dtype != dtype:
                raise ValueError(
                    f"{caller}: with warm_start or partial_fit the network must keep its shape, activation"
                    f" and dtype: fitted {network.layer_units} {network.activation} {network.dtype}, now"
                    f" {layer_units} {self.activation} {dtype}; set warm_start=False to start over")
        if first_pass or not isinstance(getattr(self, "_optimizer", None), self._solver_class()):
            self._optimizer = self._new_optimizer()
        if self._peers is not None:
            self._peers.broadcast(self._network.params)  # every rank starts from rank 0's weights
        self._fit_stochastic(X, targets, sample_weight, stratify, rng, incremental, caller)
        if not np.isfinite(self._network.params).all() or not np.isfinite(self.loss_):
            raise ValueError(
                f"{caller}: the solver produced non-finite weights or loss ({self.loss_}); the input "
                "may contain large values and need standardising, or learning_rate_init may be too large.")
        return self

    def _solver_class(self):
        return SGD if self.solver == "sgd" else Adam

    def _new_optimizer(self):
        if self.solver == "sgd":
            return SGD(self._network, self.learning_rate_init, self.learning_rate, self.momentum,
                       self.nesterovs_momentum, self.power_t)
        return Adam(self._network, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)

    def _initialize(self, layer_units, dtype, rng):
        self._network = DenseNetwork(layer_units, self.activation, dtype, rng)
        self.coefs_, self.intercepts_ = self._network.coefs, self._network.intercepts
        self.n_features_in_ = layer_units[0]
        self.n_outputs_ = layer_units[-1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _sync_network(self):
        """If the user replaced coefs_ or intercepts_, train and predict from those values."""
        network = self._network
        if not network.owns(self.coefs_, self.intercepts_):
            network.load(self.coefs_, self.intercepts_)
            self.coefs_, self.intercepts_ = network.coefs, network.intercepts

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_network" in state:  # unpickled: point the public lists back at the network's views
            self.coefs_, self.intercepts_ = self._network.coefs, self._network.intercepts

    # ---- fitted state, for fastnn.save / fastnn.load --------------------------------------------
    # _own_fitted_state() -> the subclass's entries; _read_outputs_state(reader, n_outputs,
    #     out_activation) -> its attributes, checked against the output layer

    def _get_fitted_state(self):
        """The fitted attributes and the optimiser's state as arrays and JSON scalars, or None
        before fit: enough for identical predictions, and for partial_fit and warm_start to go on
        exactly as this estimator would."""
        if not hasattr(self, "coefs_"):
            return None
        self._sync_network()
        network = self._network
        state = {"n_features_in_": self.n_features_in_, "n_outputs_": self.n_outputs_,
                 "n_layers_": self.n_layers_, "out_activation_": self.out_activation_,
                 "activation": network.activation,  # the network's: set_params after fit leaves it
                 "n_iter_": self.n_iter_, "t_": self.t_,
                 "loss_curve_": np.array(self.loss_curve_, dtype=np.float64),
                 "validation_scores_": None if self.validation_scores_ is None else
                 np.array(self.validation_scores_, dtype=np.float64),
                 "best_loss_": self.best_loss_, "best_validation_score_": self.best_validation_score_,
                 "_no_improvement_count": self._no_improvement_count,
                 "_best_params": getattr(self, "_best_params", None)}
        if hasattr(self, "loss_"):
            state["loss_"] = self.loss_
        for i, (coef, intercept) in enumerate(zip(self.coefs_, self.intercepts_)):
            state[f"coefs_.{i}"] = np.ascontiguousarray(coef)
            state[f"intercepts_.{i}"] = np.ascontiguousarray(intercept)
        state.update(self._own_fitted_state())
        optimizer = getattr(self, "_optimizer", None)
        state.update(optimizer.get_state() if optimizer is not None else {"optimizer": None})
        return state

    def _set_fitted_state(self, state):
        """Restore what _get_fitted_state returned; ValueError (naming the entry) if it does not
        fit together, in which case nothing is set."""
        reader = StateReader(state, type(self).__name__)
        n_features = reader.integer("n_features_in_", low=1)
        n_layers = reader.integer("n_layers_", low=2)
        n_outputs = reader.integer("n_outputs_", low=1)
        out_activation = reader.choice("out_activation_", tuple(OUTPUT_LOSSES))
        fitted = self._read_outputs_state(reader, n_outputs, out_activation)
        coefs, intercepts, units = [], [], [n_features]
        for i in range(n_layers - 1):  # a wrong n_layers_ stops at the first layer the state lacks
            dtypes = ["float32", "float64"] if i == 0 else [coefs[0].dtype]
            coefs.append(reader.array(f"coefs_.{i}", dtypes, (units[-1], None)))
            units.append(coefs[-1].shape[1])
            if units[-1] < 1:
                reader.fail(f"coefs_.{i}", "has no units")
            intercepts.append(reader.array(f"intercepts_.{i}", dtypes, (units[-1],)))
        if units[-1] != n_outputs:
            reader.fail(f"coefs_.{n_layers - 2}", f"has {units[-1]} outputs, n_outputs_ is {n_outputs}")
        network = DenseNetwork(units, reader.choice("activation", HIDDEN_ACTIVATIONS), coefs[0].dtype, rng=None)
        network.load(coefs, intercepts)
        fitted.update(
            _network=network, coefs_=network.coefs, intercepts_=network.intercepts,
            n_features_in_=n_features, n_outputs_=n_outputs, n_layers_=n_layers, out_activation_=out_activation,
            n_iter_=reader.integer("n_iter_"), t_=reader.integer("t_"),
            loss_curve_=reader.numbers("loss_curve_", "float64"),
            validation_scores_=reader.numbers("validation_scores_", "float64", nullable=True),
            best_loss_=reader.number("best_loss_", nullable=True),
            best_validation_score_=reader.number("best_validation_score_", nullable=True),
            _no_improvement_count=reader.integer("_no_improvement_count"))
        if reader.has("loss_"):
            fitted["loss_"] = reader.number("loss_")
        best_params = reader.array("_best_params", [network.dtype], network.params.shape, nullable=True)
        if best_params is not None:
            fitted["_best_params"] = best_params
        solver = reader.choice("optimizer", ("sgd", "adam"), nullable=True)
        if solver is not None:
            fitted["_optimizer"] = (SGD if solver == "sgd" else Adam).from_state(network, reader)
        reader.done()
        self.__dict__.update(fitted)
        return self

    def _validation_split(self, n_samples, stratify, rng):
        """Indices (train, validation), validation_fraction of the samples (rounded up) held out,
        each class in proportion when `stratify` gives class indices."""
        n_val = math.ceil(self.validation_fraction * n_samples)
        if n_val < 2 or n_samples - n_val < 1:
            raise ValueError(
                f"The validation set is too small ({n_val} of {n_samples} samples). Increase"
                " 'validation_fraction' or the size of your dataset.")
        order = rng.permutation(n_samples)
        if stratify is not None:
            order = order[np.argsort(stratify[order], kind="stable")]  # grouped by class, random within
            labels = stratify[order]
            counts = np.bincount(labels)
            rank_in_class = np.arange(n_samples) - (np.cumsum(counts) - counts)[labels]
            order = order[np.argsort((rank_in_class + 0.5) / counts[labels], kind="stable")]
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _fit_stochastic(self, X, targets, sample_weight, stratify, rng, incremental, caller):
        network, optimizer = self._network, self._optimizer
        early_stopping = self.early_stopping
        # warm_start after set_params(early_stopping=...) changed it: start the record the rule needs
        if early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        if not early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf
        if early_stopping:
            train, val = self._validation_split(X.shape[0], stratify, rng)
            X_val, y_val = X[val], targets[val]
            w_val = None if sample_weight is None else sample_weight[val]
            X, targets = X[train], targets[train]
            sample_weight = None if sample_weight is None else sample_weight[train]
        n_samples = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn(f"{caller}: batch_size {self.batch_size} exceeds the {n_samples} training"
                              " samples; it is clipped to them", UserWarning, stacklevel=3)
            batch_size = min(self.batch_size, n_samples)
        if sample_weight is not None:
            sample_weight = sample_weight.astype(network.dtype)
        peers = self._peers
        n_total = n_samples if peers is None else int(peers.total(n_samples)[0])
        verbose = self.verbose and (peers is None or peers.rank == 0)
        reporter = EpochReporter(verbose, 1 if incremental else self.max_iter, type(self).__name__)
        self.n_iter_ = 0  # epochs of this call, as scikit-learn counts them; t_ counts samples over all calls
        try:
            for _ in range(1 if incremental else self.max_iter):
                started = time.perf_counter()
                order = rng.permutation(n_samples) if self.shuffle else None
                accumulated_loss = 0.0
                for batch in _minibatches(n_samples, batch_size, order, peers):
                    weights = None if sample_weight is None else sample_weight[batch]
                    batch_loss, rows = self._train_step(X[batch], targets[batch], weights, network, optimizer)
                    accumulated_loss += batch_loss * rows
                self.n_iter_ += 1
                self.t_ += n_total
                self.loss_ = accumulated_loss / n_total
                self.loss_curve_.append(self.loss_)
                score = self._update_no_improvement_count(X_val, y_val, w_val) if early_stopping else \
                    self._update_no_improvement_count()
                optimizer.epoch_ends(self.t_)
                reporter.epoch(self.n_iter_, self.loss_, score, time.perf_counter() - started)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    message = (f"{what} did not improve more than tol={self.tol:f} for"
                               f" {self.n_iter_no_change} consecutive epochs.")
                    if optimizer.should_stop():
                        reporter.message(message + " Stopping.")
                        break
                    reporter.message(message + f" Setting learning rate to {optimizer.learning_rate:f}")
                    self._no_improvement_count = 0
            else:
                if not incremental:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and"
                                  " the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        finally:
            reporter.close()
        best = getattr(self, "_best_params", None)
        if early_stopping and best is not None:  # None: no finite validation score to choose by
            network.params[...] = best

    def _train_step(self, X, targets, weights, network, optimizer):
        """One minibatch: forward, loss, backward, L2 penalty, update. Returns the batch loss
        and its number of rows (of every rank's batch together when training data-parallel)."""
        output = network.forward(X, keep=True)
        losses, output_grad = OUTPUT_LOSSES[self.out_activation_](output, targets)
        rows = X.shape[0]
        if weights is None:
            weight_sum, loss_sum = rows, float(np.sum(losses, dtype=np.float64))
        else:
            weight_sum = float(weights.sum(dtype=np.float64))
            loss_sum = float(np.dot(losses.astype(np.float64), weights))
            output_grad *= weights[:, None]
        peers = self._peers
        if peers is not None:
            weight_sum, loss_sum, rows = peers.total(weight_sum, loss_sum, rows)
        if weight_sum <= 0:
            return 0.0, rows  # a batch of zero weight teaches nothing
        loss = loss_sum / weight_sum
        output_grad *= 1.0 / weight_sum
        # the allreduce sums the ranks' gradients: the penalty's gradient is added by rank 0 alone
        l2_strength = self.alpha / weight_sum if peers is None or peers.rank == 0 else 0.0
        network.backward(output_grad, l2_strength=l2_strength)
        if peers is not None:
            peers.sum_gradients(network.grads)
        if self.alpha:
            loss += 0.5 * self.alpha * network.squared_norm() / weight_sum
        optimizer.step()
        return loss, rows

    def _update_no_improvement_count(self, X_val=None, y_val=None, w_val=None):
        """scikit-learn's stopping rule; returns the validation score when early stopping."""
        if X_val is None:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            return None
        score = self._validation_score(X_val, y_val, w_val)
        if self._peers is not None:  # each rank holds out part of its shard: weigh the parts
            weight = len(X_val) if w_val is None else float(np.sum(w_val, dtype=np.float64))
            weighted_score, weight = self._peers.total(score * weight, weight)
            score = float(weighted_score / weight)
        self.validation_scores_.append(score)
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            self._best_params = self._network.params.copy()
        return score

    def _forward(self, X, caller):
        check_is_fitted(self, "coefs_")
        X = check_array(X, self._network.dtype, caller)
        check_n_features(self, X, caller)
        self._sync_network()
        return self._network.forward(X)


def _minibatches(n_samples, batch_size, order, peers):
    """An epoch's batches as slices or index arrays; data-parallel, the peers' split, which
    gives every rank the same number of batches."""
    if peers is not None:
        return peers.batches(n_samples, batch_size, order)
    if order is None:
        return (slice(start, start + batch_size) for start in range(0, n_samples, batch_size))
    return (order[start:start + batch_size] for start in range(0, n_samples, batch_size))


class MLPClassifier(ClassifierMixin, BaseMLP):
    """A multi-layer perceptron classifier: scikit-learn's MLPClassifier on fastnn's kernels.

    Softmax output and cross-entropy for three or more classes, one logistic output for two.
    Labels may be any sortable values (ints, strings); `classes_` holds them sorted.

    >>> from fastnn import MLPClassifier
    >>> from fastnn.datasets import make_xor
    >>> X, y = make_xor(200, noise=0.1, random_state=0)
    >>> clf = MLPClassifier((16,), solver="adam", learning_rate_init=0.05, max_iter=100,
    ...                     random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.95, clf.predict_proba(X[:2]).shape
    (True, (2, 2))
    """

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), keeping the weights and the optimiser state of earlier calls.
        `classes` (every label that will ever appear) is required on the first call."""
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError("MLPClassifier.partial_fit: classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _targets(self, y, X, first_pass, incremental, classes, caller):
        y = check_class_labels(y, caller)
        check_consistent_length(X, y, caller)
        present = np.unique(y)
        if first_pass or not hasattr(self, "classes_"):
            self.classes_ = check_two_classes(present if classes is None else np.unique(np.asarray(classes)), caller)
        elif classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
            raise ValueError(f"{caller}: classes={classes!r} is not the same as on the first call, {self.classes_!r}")
        elif self.warm_start and not incremental and not np.array_equal(present, self.classes_):
            raise ValueError(f"{caller}: warm_start can only be used where `y` has the same classes as in the"
                             f" previous call to fit. Previously got {self.classes_}, `y` has {present}")
        missing = np.setdiff1d(present, self.classes_)
        if len(missing):
            raise ValueError(f"{caller}: `y` has classes not in `self.classes_`. `self.classes_` has"
                             f" {self.classes_}. 'y' has {present}.")
        index = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:
            return index.astype(np.dtype(self.dtype)).reshape(-1, 1), index
        return index, index

    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _out_activation(self):
        return "logistic" if len(self.classes_) == 2 else "softmax"

    def _own_fitted_state(self):
        return {"classes_": portable_labels(self.classes_)}

    def _read_outputs_state(self, reader, n_outputs, out_activation):
        classes = reader.labels("classes_")
        expected = (1, "logistic") if len(classes) == 2 else (len(classes), "softmax")
        if (n_outputs, out_activation) != expected:
            reader.fail("classes_", f"holds {len(classes)} labels, which need n_outputs_={expected[0]} and"
                                    f" out_activation_={expected[1]!r}, not {n_outputs} and {out_activation!r}")
        return {"classes_": classes}

    def _validation_score(self, X, targets, sample_weight):
        """Accuracy on held-out rows, `targets` in the encoding _targets made."""
        predicted = np.searchsorted(self.classes_, self.predict(X))
        actual = targets[:, 0].astype(np.intp) if targets.ndim == 2 else targets
        return float(np.average(predicted == actual, weights=sample_weight))

    def _log_proba(self, X, caller):
        logits = self._forward(X, caller).astype(np.float64)
        if logits.shape[1] == 1:  # log σ(z) and log σ(−z) = log(1 − σ(z))
            return -np.logaddexp(0, np.hstack([logits, -logits]))
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict(self, X):
        """The most probable class of each row of X, as labels from classes_."""
        logits = self._forward(X, "MLPClassifier.predict")
        index = (logits[:, 0] > 0).astype(np.intp) if logits.shape[1] == 1 else logits.argmax(axis=1)
        return labels_of(self, index, logits.shape[1], "MLPClassifier.predict")

    def predict_log_proba(self, X):
        """log P(class | x), (n_samples, n_classes) float64 in the order of classes_."""
        return self._log_proba(X, "MLPClassifier.predict_log_proba")

    def predict_proba(self, X):
        """P(class | x), (n_samples, n_classes) float64 in the order of classes_; rows sum to 1."""
        return np.exp(self._log_proba(X, "MLPClassifier.predict_proba"))


class MLPRegressor(RegressorMixin, BaseMLP):
    """A multi-layer perceptron regressor: scikit-learn's MLPRegressor on fastnn's kernels.

    Linear output, half squared error; y of shape (n,) or (n, n_outputs).

    >>> import numpy as np
    >>> from fastnn import MLPRegressor
    >>> X = np.linspace(-np.pi, np.pi, 200).reshape(-1, 1)
    >>> reg = MLPRegressor((32,), activation="tanh", learning_rate_init=0.01, max_iter=500,
    ...                    random_state=0).fit(X, np.sin(X).ravel())
    >>> reg.score(X, np.sin(X).ravel()) > 0.95
    True
    """

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), keeping the weights and the optimiser state of earlier calls."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _targets(self, y, X, first_pass, incremental, classes, caller):
        y = check_regression_targets(y, np.dtype(self.dtype), caller)
        check_consistent_length(X, y, caller)
        self._fit_outputs = 1 if y.ndim == 1 else y.shape[1]
        return y.reshape(len(y), -1), None

    def _n_outputs(self):
        return self._fit_outputs

    def _out_activation(self):
        return "identity"

    def _own_fitted_state(self):
        return {}

    def _read_outputs_state(self, reader, n_outputs, out_activation):
        if out_activation != "identity":
            reader.fail("out_activation_", f"must be 'identity' for a regressor, got {out_activation!r}")
        return {"_fit_outputs": n_outputs}

    def _validation_score(self, X, targets, sample_weight):
        """R² on held-out rows."""
        return self.score(X, targets[:, 0] if self.n_outputs_ == 1 else targets, sample_weight=sample_weight)

    def predict(self, X):
        """The network's output for X as float64: (n_samples,) for a single target, else
        (n_samples, n_outputs)."""
        output = self._forward(X, "MLPRegressor.predict").astype(np.float64)
        return output.ravel() if self.n_outputs_ == 1 else output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags
