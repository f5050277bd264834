"""The findings of issue 14, each a test: arguments the C shell must refuse (None where an array
belongs), a forked child asking for threads, and the calls that ended in an unclear exception
or a silently wrong result."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastnn
import fastnn.functional as F
from fastnn import _core, nn, optim
from fastnn.datasets import make_spirals, make_xor
from support import fastnn_env


# ---------------------------------------------------------------- None where an array belongs

@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.SGD(ps, momentum=0.9),
                                  lambda ps: optim.Adam(ps, amsgrad=True), lambda ps: optim.AdamW(ps)])
@pytest.mark.parametrize("attribute", ["grad", "data"])
def test_a_parameter_without_an_array_is_named(make, attribute):
    kept = nn.Parameter(np.ones(3, np.float32))
    broken = nn.Parameter(np.ones((2, 2), np.float32))
    if attribute == "data":  # refused where it is set
        with pytest.raises(TypeError, match=r"Parameter \(2, 2\) float32: data cannot be None"):
            broken.data = None
        broken._data = None  # as a careless subclass or pickle might leave it
    else:
        broken.grad = None
    optimizer = make([kept, broken])
    with pytest.raises(TypeError, match=rf"parameter 1 of group 0: \.{attribute} is NoneType"):
        optimizer.step()
    assert optimizer.state.get(broken, {}).get("step", 0) == 0  # nothing half-done for it


def test_a_gradient_of_another_shape_is_named():
    p = nn.Parameter(np.ones(3, np.float32))
    p.grad = np.ones(4, np.float32)
    with pytest.raises(ValueError, match=r"Adam\.step: a parameter of group 0 .*grad"):
        optim.Adam([p]).step()


F32 = np.ones(4, np.float32)
NONE_CALLS = {
    "sgd_step": lambda: _core.sgd_step(F32.copy(), None, None, 0.1, 0, 0, False, 0, 0, False),
    "sgd_step_param": lambda: _core.sgd_step(None, F32, None, 0.1, 0, 0, False, 0, 0, False),
    "adam_step": lambda: _core.adam_step(F32.copy(), F32, None, F32.copy(), None, 0.1, 0.9, 0.9, 1e-8, 0,
                                         False, 1),
    "activation_forward": lambda: _core.activation_forward(0, F32, None),
    "activation_backward": lambda: _core.activation_backward(1, F32, None, F32.copy()),
    "delta_and_bias_grad": lambda: _core.delta_and_bias_grad(1, None, None, None, None, False),
    "softmax": lambda: _core.softmax(None, None, False),
    "softmax_backward": lambda: _core.softmax_backward(F32.reshape(1, 4), None, F32.reshape(1, 4), False),
    "elementwise_loss": lambda: _core.elementwise_loss(0, 0.0, F32, None, None, 1.0, None),
    "elementwise_loss_input": lambda: _core.elementwise_loss(0, 0.0, None, F32, None, 1.0, None),
    "class_loss": lambda: _core.class_loss(6, 0.0, F32.reshape(1, 4), None, None, 1.0, None, "x"),
    "class_loss_scores": lambda: _core.class_loss(6, 0.0, None, F32, None, 1.0, None, "x"),
    "cross_entropy_probs": lambda: _core.cross_entropy_probs(None, F32, None, 1.0, None),
    "rmsprop_step": lambda: _core.rmsprop_step(F32.copy(), None, F32.copy(), None, None, 0.1, 0.9, 1e-8,
                                               0, 0),
    "adagrad_step": lambda: _core.adagrad_step(None, F32, F32.copy(), 0.1, 0, 1e-10, 0, 1),
    "first_overlap": lambda: _core.first_overlap(None, F32),
    "gemm": lambda: _core.gemm(F32.reshape(2, 2), None, F32.reshape(2, 2).copy()),
    "select_isa": lambda: _core.select_isa(None),
    "isa_supported": lambda: _core.isa_supported(None),
}


@pytest.mark.parametrize("name", sorted(NONE_CALLS))
def test_the_c_shell_refuses_none_for_arrays(name):
    """Every entry of the compiled core: None where an array belongs is a TypeError, never a
    read through None's fields (which UBSan reports as a misaligned PyArray_Descr)."""
    with pytest.raises(TypeError):
        NONE_CALLS[name]()


# ---------------------------------------------------------------- fork and threads

def test_a_forked_child_asking_for_threads_does_not_hang():
    """The parent's worker threads do not exist in a forked child: one that asks for 2 threads
    (or OpenMP's default) and multiplies must finish with the right product. In a fresh process,
    so that this one's threads are not at stake; a hang is caught by the timeout."""
    child = """
import os, numpy as np, fastnn
a = np.ones((300, 300), np.float32)
fastnn.set_num_threads(2)
fastnn.matmul(a, a)  # the parent's helpers are started
results = []
for n in (2, None):
    pid = os.fork()
    if pid == 0:
        fastnn.set_num_threads(n)
        ok = (fastnn.matmul(a, a) == 300).all() and (n is None or fastnn.get_num_threads() == n)
        os._exit(0 if ok else 3)
    results.append(os.waitpid(pid, 0)[1])
print(results)
"""
    out = subprocess.run([sys.executable, "-c", child], env=fastnn_env(), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0, 0]", out.stdout


@pytest.mark.parametrize("n, error", [(2**31, ValueError), (fastnn.MAX_THREADS + 1, ValueError),
                                      (-1, ValueError), (2.0, TypeError), (True, TypeError)])
def test_set_num_threads_range(n, error):
    before = fastnn.get_num_threads()
    with pytest.raises(error, match="set_num_threads"):
        fastnn.set_num_threads(n)
    assert fastnn.get_num_threads() == before


# ---------------------------------------------------------------- unclear or wrong results

@pytest.mark.parametrize("name, saved", [("relu", "output"), ("gelu", "input"), ("identity", None)])
def test_activation_backward_keeps_a_0d_shape(name, saved):
    kwargs = {saved: np.float32(0.5)} if saved else {}
    grad = F.activation_backward(name, np.float32(2.0), **kwargs)
    assert grad.shape == ()
    expected = F.activation_backward(name, np.array([2.0], np.float32),
                                     **{k: np.array([v]) for k, v in kwargs.items()})
    assert grad == expected[0]


def test_losses_keep_a_0d_gradient_shape():
    loss, grad = F.mse_loss(np.array(1.0), np.array(3.0), return_grad=True)
    assert (loss, grad.shape, float(grad)) == (4.0, (), -4.0)
    _, grad = F.binary_cross_entropy_with_logits(np.array(0.0), np.array(1.0), return_grad=True)
    assert grad.shape == () and float(grad) == -0.5


@pytest.mark.parametrize("estimator", [fastnn.LogisticRegression, fastnn.LinearSVM])
def test_linear_models_refuse_values_whose_curvature_overflows(estimator):
    X = np.random.default_rng(0).standard_normal((40, 3)) * 1e154
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="too large"):
        estimator().fit(X, y)
    # still large, but representable: the model is finite and right
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastnn.LogisticRegression().fit(X / 1e4, y)
    assert np.isfinite(model.coef_).all() and model.score(X / 1e4, y) == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_early_stopping_on_targets_that_overflow_is_a_value_error(dtype):
    X = np.random.default_rng(0).standard_normal((60, 3))
    with warnings.catch_warnings(), pytest.raises(ValueError, match="NaN or infinity|non-finite"):
        warnings.simplefilter("ignore")
        fastnn.MLPRegressor((4,), early_stopping=True, max_iter=5, random_state=0,
                            dtype=dtype).fit(X, X[:, 0] * 1e300)


@pytest.mark.parametrize("first, then", [(True, False), (False, True)])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_warm_training_after_changing_early_stopping(first, then, method):
    X = np.random.default_rng(0).standard_normal((60, 3))
    y = X[:, 0] - X[:, 1]
    model = fastnn.MLPRegressor((4,), early_stopping=first, max_iter=5, random_state=0, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
        model.set_params(early_stopping=then)
        if method == "partial_fit" and then:
            with pytest.raises(ValueError, match="early_stopping"):
                model.partial_fit(X, y)
            return
        getattr(model, method)(X, y)
    assert np.isfinite(model.predict(X)).all()
    if then:
        assert len(model.validation_scores_) == 5 and np.isfinite(model.best_validation_score_)
    else:
        assert np.isfinite(model.best_loss_)


@pytest.mark.parametrize("generator", [make_spirals, make_xor])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("n_samples", [2**63, 2**62, 10**30])
def test_generators_refuse_more_samples_than_an_array_holds(generator, shuffle, n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        generator(n_samples=n_samples, shuffle=shuffle)


def test_generators_too_large_for_memory_raise_memory_error():
    with pytest.raises(MemoryError):
        make_spirals(n_samples=2**50)


# ---------------------------------------------------------------- found by the fuzzer

@pytest.mark.parametrize("last_epoch, error", [(float("nan"), TypeError), ("relu", TypeError), (False, TypeError),
                                               (-2**63, ValueError), (-2, ValueError)])
def test_schedulers_check_last_epoch(last_epoch, error):
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    with pytest.raises(error, match="last_epoch"):
        optim.ExponentialLR(opt, gamma=0.5, last_epoch=last_epoch)
    with pytest.raises(error, match="last_epoch"):
        optim.StepLR(opt, step_size=1, last_epoch=last_epoch)


@pytest.mark.parametrize("gamma", [float("nan"), float("inf"), None, "0.5"])
def test_schedulers_check_gamma(gamma):
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    with pytest.raises(TypeError, match="gamma"):
        optim.ExponentialLR(opt, gamma=gamma)


@pytest.mark.parametrize("state", [None, 3, [], {"state": {}}, {"state": [], "param_groups": []},
                                   {"state": {}, "param_groups": [3]}])
def test_optimizer_load_state_dict_checks_its_input(state):
    opt = optim.Adam([nn.Parameter(np.zeros(2))])
    with pytest.raises(TypeError, match="load_state_dict"):
        opt.load_state_dict(state)


def test_optimizer_load_state_dict_checks_the_hyper_parameters():
    opt = optim.SGD([nn.Parameter(np.zeros(2))], lr=0.1)
    saved = opt.state_dict()
    saved["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["lr"] == 0.1  # unchanged


@pytest.mark.parametrize("slope", [1e308, -1e200, float("inf"), float("nan")])
def test_calculate_gain_on_extreme_slopes(slope):
    if not np.isfinite(slope):
        with pytest.raises(ValueError, match="slope"):
            fastnn.init.calculate_gain("leaky_relu", slope)
    else:
        assert fastnn.init.calculate_gain("leaky_relu", slope) == pytest.approx(np.sqrt(2.0) / abs(slope))


def test_make_spirals_bounds_n_classes():
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(n_samples=10, n_classes=2**64)


def test_resuming_a_schedule_without_initial_lr_is_a_value_error_and_a_key_error():
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="initial_lr"):
        optim.ExponentialLR(opt, gamma=0.5, last_epoch=2)
    with pytest.raises(KeyError, match="initial_lr"):  # as torch raises it
        optim.ExponentialLR(opt, gamma=0.5, last_epoch=2)


@pytest.mark.parametrize("estimator", [fastnn.MLPClassifier((3,), max_iter=3, random_state=0),
                                       fastnn.LogisticRegression(max_iter=3), fastnn.Perceptron(max_iter=3)])
@pytest.mark.parametrize("classes", [np.array([]), np.array([0, 1, 2, 3]), None, [0, 1]])
def test_predict_after_classes_was_replaced_by_hand(estimator, classes):
    X, y = make_xor(40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X, y)
    estimator.classes_ = classes
    with pytest.raises(ValueError, match="classes_"):
        estimator.predict(X)


def test_partial_fit_with_no_classes_names_them_and_leaves_the_model_unfitted():
    X, y = make_xor(20, random_state=0)
    model = fastnn.Perceptron()
    with pytest.raises(ValueError, match="no class at all"):
        model.partial_fit(X, y, classes=np.array([]))
    assert not hasattr(model, "classes_")


def test_mlp_partial_fit_with_no_classes_names_them():
    X, y = make_xor(20, random_state=0)
    model = fastnn.MLPClassifier((3,))
    with pytest.raises(ValueError, match="no class at all"):
        model.partial_fit(X, y, classes=np.array([]))
    assert not hasattr(model, "classes_")


@pytest.mark.parametrize("shape, dim", [((3, 0), -1), ((0, 3), 0), ((2, 0, 4), 1), ((0,), 0)])
@pytest.mark.parametrize("take_log", [False, True])
def test_softmax_along_or_beside_an_empty_axis_is_empty(shape, dim, take_log):
    """No row to normalise: an empty result of the input's shape (the C kernel is never asked
    for the maximum of an empty row, which would read past it)."""
    x = np.ones(shape, np.float32)
    forward, backward = ((F.log_softmax, F.log_softmax_backward) if take_log
                         else (F.softmax, F.softmax_backward))
    y = forward(x, dim)
    assert y.shape == shape and y.dtype == np.float32
    assert backward(np.ones_like(y), y, dim).shape == shape
    rows = np.ones((3, 0), np.float32)
    assert _core.softmax(rows, np.empty_like(rows), take_log).shape == (3, 0)
