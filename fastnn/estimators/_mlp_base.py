"""What MLPClassifier and MLPRegressor share: parameters, validation, the three solvers, early
stopping, pickling and the fitted state for fastnn.save / fastnn.load.

The training follows scikit-learn's definitions: Glorot-uniform initialisation, loss = mean
(sample-weighted) data loss + alpha/2 · ‖W‖² / Σ(batch weights), its SGD/Adam updates and
learning-rate schedules, its stopping rule, early stopping on a held-out (stratified)
validation_fraction that restores the best weights, and full-batch L-BFGS with its stopping
rules and `max_fun`. The network is an nn.Sequential (see _network); the inner loops are the
functions of _epoch.
"""
import math
import time
import warnings

import numpy as np

from .. import _core
from ..io import LATER_PARAMETERS
from ._base import BaseEstimator, ConvergenceWarning, check_is_fitted
from ._epoch import compiled_epoch, compiled_loss, objective, train_epoch
from ._lbfgs import minimize
from ._losses import OUTPUT_LOSSES
from ._network import HIDDEN_ACTIVATIONS, DenseNetwork
from ._optimizers import SGD, Adam
from ._progress import EpochReporter
from ._state import StateReader
from ._validation import (Boolean, FloatDtype, Interval, LayerSizes, Options, RandomState, as_layer_sizes,
                          check_array, check_n_features, check_sample_weight, model_dtype, validate_params)

NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain large"
                      " values and need to be preprocessed.")
_SOLVERS = {"sgd": SGD, "adam": Adam}


def random_state_as_scikit_learn(random_state):
    """The random source scikit-learn's MLPs draw from: a RandomState seeded by an int, numpy's
    global one for None, the RandomState or Generator given. With an int seed the initial
    weights are then scikit-learn's own, draw for draw."""
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    return np.random.RandomState(int(random_state))


class BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: validation, the training loops, the solvers."""

    # The other processes of a data-parallel fit (fastnn.distributed sets it for the call; see
    # _epoch for what they answer). None: this process trains alone.
    _peers = None

    _parameter_constraints = {
        "hidden_layer_sizes": [LayerSizes()],
        "activation": [Options(*HIDDEN_ACTIVATIONS)],
        "solver": [Options("lbfgs", "sgd", "adam")],
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
        "max_fun": [Interval("int", 1, None, "left")],
        "dtype": [FloatDtype()],
        "precision": [Options(*_core.PRECISIONS)],
    }

    def _set_shared_params(self, hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                           learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose,
                           warm_start, momentum, nesterovs_momentum, early_stopping, validation_fraction,
                           beta_1, beta_2, epsilon, n_iter_no_change, max_fun, dtype, precision):
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
        self.max_fun = max_fun
        self.dtype = dtype
        self.precision = precision

    # ---- what the subclasses define -----------------------------------------------------------
    # _targets(y, X, first_pass, incremental, classes, caller) -> (targets for the loss in the
    #     model's dtype, class indices to stratify the validation split by, or None)
    # _n_outputs(), _out_activation(), _validation_score(X, targets, sample_weight),
    # _stratum_name(index): how scikit-learn names a class in its split errors

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) (X dense or scipy sparse) for up to max_iter epochs or L-BFGS
        iterations, continuing from the current weights if warm_start is set. Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        caller = f"{type(self).__name__}.{'partial_fit' if incremental else 'fit'}"
        validate_params(self, self._parameter_constraints)
        if incremental and self.early_stopping:
            raise ValueError(f"{caller}: partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        if not first_pass and not hasattr(self, "_network"):
            self._adopt_parameters(caller)
        dtype = self._model_dtype(X, first_pass, caller)
        X = check_array(X, dtype, caller, accept_sparse=True)
        targets, stratify = self._targets(y, X, first_pass, incremental, classes, caller)
        sample_weight = check_sample_weight(sample_weight, X.shape[0], caller)
        rng = random_state_as_scikit_learn(self.random_state)
        layer_units = [X.shape[1]] + as_layer_sizes(self.hidden_layer_sizes) + [self._n_outputs()]
        if first_pass:
            self._initialize(layer_units, dtype, rng)
        else:
            check_n_features(self, X, caller)
            self._sync_network()
            network = self._network
            if network.layer_units != layer_units or network.activation != self.activation:
                raise ValueError(
                    f"{caller}: with warm_start or partial_fit the network must keep its shape and activation:"
                    f" fitted {network.layer_units} {network.activation}, now {layer_units} {self.activation};"
                    " set warm_start=False to start over")
            self.out_activation_ = self._out_activation()
        self._network.set_precision(self.precision)
        if self._peers is not None:
            self._peers.broadcast(self._network.params)  # every rank starts from rank 0's weights
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, targets, sample_weight)
        else:
            if first_pass or not isinstance(getattr(self, "_optimizer", None), _SOLVERS[self.solver]):
                self._optimizer = self._new_optimizer()
            self._fit_stochastic(X, targets, sample_weight, stratify, rng, incremental, caller)
        if not np.isfinite(self._network.params).all():
            raise ValueError(NON_FINITE_WEIGHTS)
        if self.early_stopping and self.solver != "lbfgs" and not np.isfinite(self.best_validation_score_):
            # scikit-learn would return the initial weights untrained; say what happened instead
            raise ValueError(f"{caller}: no epoch gave a finite validation score (the loss is {self.loss_}):"
                             " the solver produced non-finite outputs; the input may contain large values"
                             " and need to be preprocessed.")
        return self

    def _model_dtype(self, X, first_pass, caller):
        """The dtype this fit computes in: dtype's, else X's (float32 stays float32, anything else
        float64), else the fitted network's; float32 whenever precision="bf16" (its products
        accumulate in float32), for which a float64 dtype or network is an error."""
        if first_pass:
            dtype = model_dtype(self.dtype if self.precision != "bf16" or self.dtype is not None
                                else np.float32, X)
        else:
            dtype = self._network.dtype
        if self.precision == "bf16" and dtype != np.float32:
            whose = "dtype" if first_pass else "the fitted network's dtype"
            raise ValueError(f"{caller}: precision='bf16' computes in float32, but {whose} is {dtype}:"
                             f" leave dtype=None (or float32), or use precision='fp32'")
        return dtype

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
        self._reset_progress()
        self.__dict__.pop("_best_params", None)

    def _reset_progress(self):
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

    def _adopt_parameters(self, caller):
        """coefs_ and intercepts_ were set by hand on an estimator never fitted: build the network
        from them, and the bookkeeping a fit would have made, where it is missing."""
        coefs, intercepts = list(self.coefs_), list(getattr(self, "intercepts_", []))
        shapes = [np.shape(c) for c in coefs]
        if not coefs or any(len(s) != 2 for s in shapes) or any(
                a[1] != b[0] for a, b in zip(shapes[:-1], shapes[1:])):
            raise ValueError(f"{caller}: coefs_ must be a list of 2-D arrays that chain (fan_in, fan_out),"
                             f" got shapes {shapes}")
        first = np.asarray(coefs[0])
        dtype = np.dtype(self.dtype) if self.dtype is not None else (
            first.dtype if first.dtype in (np.float32, np.float64) else np.dtype(np.float64))
        units = [shapes[0][0]] + [s[1] for s in shapes]
        self._network = DenseNetwork(units, self.activation, dtype, rng=None)
        self._network.load(coefs, intercepts)
        self.coefs_, self.intercepts_ = self._network.coefs, self._network.intercepts
        self.n_features_in_, self.n_outputs_, self.n_layers_ = units[0], units[-1], len(units)
        for name, value in (("n_iter_", 0), ("t_", 0)):
            if not hasattr(self, name):
                setattr(self, name, value)
        if not hasattr(self, "loss_curve_"):
            self._reset_progress()

    def _sync_network(self):
        """If the user replaced coefs_ or intercepts_, train and predict from those values."""
        network = self._network
        if not network.owns(self.coefs_, self.intercepts_):
            network.load(self.coefs_, self.intercepts_)
            self.coefs_, self.intercepts_ = network.coefs, network.intercepts

    # ---- pickling: the optimiser travels as its state and is bound to the network again ----------

    def __getstate__(self):
        if "_network" in self.__dict__:
            self._sync_network()
        try:
            state = super().__getstate__()
        except AttributeError:  # Python 3.10 without scikit-learn: object has no __getstate__
            state = self.__dict__
        state = dict(state)
        optimizer = state.pop("_optimizer", None)
        if optimizer is not None:
            state["_optimizer_state"] = optimizer.get_state()
        return state

    def __setstate__(self, state):
        state = dict(state)
        optimizer_state = state.pop("_optimizer_state", None)
        try:
            super().__setstate__(state)
        except AttributeError:
            self.__dict__.update(state)
        if "_network" in state:  # the public lists must view the unpickled network's buffer
            self.coefs_, self.intercepts_ = self._network.coefs, self._network.intercepts
        if optimizer_state is not None:
            reader = StateReader(optimizer_state, type(self).__name__)
            solver = reader.choice("optimizer", tuple(_SOLVERS))
            self._optimizer = _SOLVERS[solver].from_state(self._network, reader)
            reader.done()

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
                 "precision": network.precision,
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
        activation = reader.choice("activation", HIDDEN_ACTIVATIONS)
        precision = (reader.choice("precision", _core.PRECISIONS) if reader.has("precision")
                     else LATER_PARAMETERS["precision"])  # what states saved before it meant
        if precision == "bf16" and coefs[0].dtype != np.float32:
            reader.fail("precision", f"'bf16' needs float32 coefs_, the file holds {coefs[0].dtype}")
        network = DenseNetwork(units, activation, coefs[0].dtype, rng=None, precision=precision)
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
        solver = reader.choice("optimizer", tuple(_SOLVERS), nullable=True)
        if solver is not None:
            fitted["_optimizer"] = _SOLVERS[solver].from_state(network, reader)
        reader.done()
        self.__dict__.update(fitted)
        return self

    # ---- the solvers ----------------------------------------------------------------------------

    def _validation_split(self, n_samples, stratify, rng):
        """Indices (train, validation), validation_fraction of the samples (rounded up) held out,
        each class in proportion when `stratify` gives class indices."""
        if stratify is not None:
            counts = np.bincount(stratify)
            too_few = [self._stratum_name(c) for c in np.flatnonzero((counts > 0) & (counts < 2))]
            if too_few:
                raise ValueError(
                    "The least populated classes in y have only 1 member, which is too few. The minimum"
                    " number of groups for any class cannot be less than 2. Classes with too few members"
                    f" are: {sorted(too_few)}")
        n_val = math.ceil(self.validation_fraction * n_samples)
        if n_val < 2 or n_samples - n_val < 1:
            raise ValueError(
                f"The validation set is too small ({n_val} of {n_samples} samples). Increase"
                " 'validation_fraction' or the size of your dataset.")
        order = rng.permutation(n_samples)
        if stratify is not None:
            order = order[np.argsort(stratify[order], kind="stable")]  # grouped by class, random within
            labels = stratify[order]
            rank_in_class = np.arange(n_samples) - (np.cumsum(counts) - counts)[labels]
            order = order[np.argsort((rank_in_class + 0.5) / counts[labels], kind="stable")]
        return np.sort(order[n_val:]), np.sort(order[:n_val])

    def _batch_size(self, n_samples, caller):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(f"{caller}: Got `batch_size` less than 1 or larger than sample size ({self.batch_size}"
                          f" for {n_samples} samples). It is going to be clipped", UserWarning, stacklevel=4)
        return min(self.batch_size, n_samples)

    def _fit_stochastic(self, X, targets, sample_weight, stratify, rng, incremental, caller):
        network, optimizer = self._network, self._optimizer
        output_loss = OUTPUT_LOSSES[self.out_activation_]
        early_stopping = self.early_stopping
        # warm_start after set_params(early_stopping=...) changed it: start the record the rule needs
        if early_stopping and self.validation_scores_ is None:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        if not early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf
        X_val = y_val = w_val = None
        if early_stopping:
            train, val = self._validation_split(X.shape[0], stratify, rng)
            X_val, y_val = X[val], targets[val]
            w_val = None if sample_weight is None else sample_weight[val]
            X, targets = X[train], targets[train]
            sample_weight = None if sample_weight is None else sample_weight[train]
            if not hasattr(self, "_best_params"):  # what a fit that never improves gives back
                self._best_params = network.params.copy()
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples, caller)
        if sample_weight is not None:
            sample_weight = sample_weight.astype(network.dtype)
        peers = self._peers
        compiled = compiled_loss(self.out_activation_, X, targets, sample_weight, peers)
        reporter = EpochReporter(self.verbose and (peers is None or peers.rank == 0),
                                 1 if incremental else self.max_iter, type(self).__name__)
        self.n_iter_ = 0  # epochs of this call, as scikit-learn counts them; t_ counts samples over all calls
        try:
            for _ in range(1 if incremental else self.max_iter):
                started = time.perf_counter()
                order = rng.permutation(n_samples) if self.shuffle else None
                if compiled is not None:
                    self.loss_, rows = compiled_epoch(network, optimizer, compiled, X, targets, self.alpha,
                                                      batch_size, order)
                else:
                    self.loss_, rows = train_epoch(network, optimizer, output_loss, X, targets, sample_weight,
                                                   self.alpha, batch_size, order, peers)
                self.n_iter_ += 1
                self.t_ += rows
                self.loss_curve_.append(self.loss_)
                score = self._update_no_improvement_count(X_val, y_val, w_val)
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
                                  " the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)
        finally:
            reporter.close()
        if early_stopping:
            network.params[...] = self._best_params

    def _update_no_improvement_count(self, X_val=None, y_val=None, w_val=None):
        """scikit-learn's stopping rule; returns the validation score when early stopping (NaN
        when the network's outputs are no longer finite, which never counts as improving)."""
        if X_val is None:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
            return None
        score = float(self._validation_score(X_val, y_val, w_val))
        if self._peers is not None:  # each rank holds out part of its shard: weigh the parts
            weight = len(y_val) if w_val is None else float(np.sum(w_val, dtype=np.float64))
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

    def _fit_lbfgs(self, X, targets, sample_weight):
        """Full-batch L-BFGS on the objective, scikit-learn's stopping rules (see _lbfgs)."""
        network = self._network
        output_loss = OUTPUT_LOSSES[self.out_activation_]
        if sample_weight is not None:
            sample_weight = sample_weight.astype(network.dtype)
        peers = self._peers
        compiled = compiled_loss(self.out_activation_, X, targets, sample_weight, peers)
        reporter = EpochReporter(self.verbose and (peers is None or peers.rank == 0), self.max_iter,
                                 type(self).__name__)
        started = [time.perf_counter()]

        def loss_and_gradient(x):
            network.params[...] = x
            loss, _ = objective(network, output_loss, X, targets, sample_weight, self.alpha, peers)
            if loss is None:
                raise ValueError("sample_weight: the weights sum to zero; there is nothing to fit")
            return loss, network.grads.astype(np.float64)

        def iteration_done(nit, loss):
            self.loss_curve_.append(loss)
            self.best_loss_ = min(self.best_loss_ if self.best_loss_ is not None else np.inf, loss)
            reporter.epoch(nit, loss, None, time.perf_counter() - started[0])
            started[0] = time.perf_counter()

        try:
            result = minimize(loss_and_gradient, network.params, max_iter=self.max_iter, max_fun=self.max_fun,
                              gtol=self.tol, callback=iteration_done)
        finally:
            reporter.close()
        network.params[...] = result.x
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        if result.status != 0:
            message = (f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n"
                       f"{result.message}\n")
            if self.n_iter_ == self.max_iter:
                message += f"\nIncrease the number of iterations to improve the convergence (max_iter={self.max_iter})."
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=4)

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight=None, *buffers):
        """scikit-learn's private L-BFGS objective, kept with its signature so that its tests can
        check our gradient: the parameters packed as scikit-learn packs them (each coefs_[i]
        (fan_in, fan_out) raveled, then the intercepts), y in its encoding (binarized labels,
        or targets), the gradient returned in the same packing. `buffers` are ignored."""
        network = self._network
        packed = np.asarray(packed_coef_inter)
        views = network.coefs + network.intercepts
        offset = 0
        for view in views:
            view[...] = packed[offset:offset + view.size].reshape(view.shape)
            offset += view.size
        X = check_array(X, network.dtype, "_loss_grad_lbfgs", accept_sparse=True)
        targets = np.asarray(y, dtype=network.dtype).reshape(X.shape[0], -1)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=network.dtype)
        loss, _ = objective(network, OUTPUT_LOSSES[self.out_activation_], X, targets, weights, self.alpha)
        grads = [g.T for g in network.weight_grads] + network.intercept_grads
        return loss, np.concatenate([g.ravel() for g in grads]).astype(np.float64)

    def _forward(self, X, caller):
        check_is_fitted(self, "coefs_")
        if "_network" not in self.__dict__:
            self._adopt_parameters(caller)
        X = check_array(X, self._network.dtype, caller, accept_sparse=True)
        check_n_features(self, X, caller)
        self._sync_network()
        return self._network.forward(X)
