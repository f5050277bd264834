"""fastnn.optim: updates against the reference formulas (and torch.optim when installed),
parameter groups, state dicts, schedules and bad input."""
import copy

import numpy as np
import pytest

from fastnn import _core, optim
from fastnn.nn import Parameter

SHAPES = [(1,), (7,), (5, 3), (2, 3, 5)]


def gradient_sequence(shape, steps, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(dtype) for _ in range(steps)]


def reference_sgd(w, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, l1=0.0):
    """torch.optim.SGD's rule plus l1 · sign(w), in float64."""
    w = w.astype(np.float64)
    buf = None
    for grad in grads:
        g = grad + weight_decay * w + l1 * np.sign(w)
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
    return w


def reference_adam(w, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                   decoupled=False, amsgrad=False):
    w = w.astype(np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    v_max = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        denom = np.sqrt(v_max if amsgrad else v) / np.sqrt(1 - beta2 ** t) + eps
        w = w - lr / (1 - beta1 ** t) * m / denom
    return w


def run(optimizer_class, w0, grads, **hyper):
    p = Parameter(w0.copy())
    opt = optimizer_class([p], **hyper)
    for g in grads:
        p.grad[...] = g
        opt.step()
    return p.data


def tolerance(dtype):
    return dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)


SGD_SETTINGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.1, l1=0.003),
    dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.05, l1=0.01),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("hyper", SGD_SETTINGS)
def test_sgd_matches_reference(hyper, shape, dtype):
    w0 = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    grads = gradient_sequence(shape, 4, dtype)
    got = run(optim.SGD, w0, grads, **hyper)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, reference_sgd(w0, grads, **hyper), **tolerance(dtype))


ADAM_SETTINGS = [
    (optim.Adam, dict(lr=0.01), dict()),
    (optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), dict()),
    (optim.Adam, dict(lr=0.01, amsgrad=True), dict(amsgrad=True)),
    (optim.AdamW, dict(lr=0.01), dict(decoupled=True, weight_decay=1e-2)),
    (optim.AdamW, dict(lr=0.01, weight_decay=0.3, amsgrad=True), dict(decoupled=True, amsgrad=True)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cls, hyper, extra", ADAM_SETTINGS)
def test_adam_family_matches_reference(cls, hyper, extra, shape, dtype):
    w0 = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    # shrinking gradients make v decrease, so amsgrad's running maximum differs from v
    grads = [g * 0.5 ** i for i, g in enumerate(gradient_sequence(shape, 5, dtype))]
    got = run(cls, w0, grads, **hyper)
    reference_hyper = dict(hyper)
    if "betas" in reference_hyper:
        reference_hyper["beta1"], reference_hyper["beta2"] = reference_hyper.pop("betas")
    reference_hyper.update(extra)
    expected = reference_adam(w0, grads, **reference_hyper)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got, expected, **tol)


def test_amsgrad_changes_the_update():
    w0 = np.ones(3)
    grads = [np.full(3, 1.0), np.full(3, 0.01), np.full(3, 0.01)]
    assert not np.allclose(run(optim.Adam, w0, grads, lr=0.1),
                           run(optim.Adam, w0, grads, lr=0.1, amsgrad=True))


def test_large_parameter_uses_the_threaded_path_correctly():
    n = (1 << 18) + 37  # past the kernel's threading threshold, not a multiple of anything
    w0 = np.random.default_rng(3).standard_normal(n)
    grads = gradient_sequence((n,), 2, np.float64)
    np.testing.assert_allclose(run(optim.SGD, w0, grads, lr=0.1, momentum=0.9),
                               reference_sgd(w0, grads, lr=0.1, momentum=0.9), rtol=1e-12)
    np.testing.assert_allclose(run(optim.AdamW, w0, grads, lr=0.1),
                               reference_adam(w0, grads, lr=0.1, weight_decay=1e-2, decoupled=True),
                               rtol=1e-10, atol=1e-12)


def test_zero_weight_decay_keeps_infinite_weights_finite_in_sign():
    p = Parameter(np.array([np.inf, -np.inf, 1.0]))
    optim.SGD([p], lr=0.1).step()  # 0 * inf must not be added in
    assert p.data[0] == np.inf and p.data[1] == -np.inf and p.data[2] == 1.0


def test_nan_gradient_propagates():
    p = Parameter(np.array([1.0, 2.0]))
    p.grad[0] = np.nan
    optim.Adam([p], lr=0.1).step()
    assert np.isnan(p.data[0]) and np.isfinite(p.data[1])


def test_zero_grad_and_param_groups():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad[...] = 1.0
    b.grad[...] = 1.0
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.0)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["momentum"] == 0
    opt.zero_grad()
    assert not a.grad.any() and not b.grad.any()


def test_sgd_positional_order_is_torchs():
    group = optim.SGD([Parameter(np.ones(1))], 0.1, 0.9, 0.2, 0.01, False).param_groups[0]
    assert (group["lr"], group["momentum"], group["dampening"], group["weight_decay"]) == (0.1, 0.9, 0.2, 0.01)
    assert group["nesterov"] is False and group["l1"] == 0
    with pytest.raises(TypeError):
        optim.SGD([Parameter(np.ones(1))], 0.1, 0, 0, 0, False, 0.01)  # l1 is keyword-only


def test_closure_is_called_and_returned():
    p = Parameter(np.ones(1))
    assert optim.SGD([p], lr=0.1).step(lambda: 3.5) == 3.5


@pytest.mark.parametrize("make", [
    lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, l1=0.01),
    lambda params: optim.Adam(params, lr=0.05, amsgrad=True),
    lambda params: optim.AdamW(params, lr=0.05),
])
def test_state_dict_round_trip_resumes_identically(make):
    rng = np.random.default_rng(4)
    params = [Parameter(rng.standard_normal((3, 2))), Parameter(rng.standard_normal(4))]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(6)]

    def steps(opt, ps, gs):
        for step_grads in gs:
            for p, g in zip(ps, step_grads):
                p.grad[...] = g
            opt.step()

    opt = make(params)
    steps(opt, params, grads[:3])
    saved = opt.state_dict()
    saved_copy = copy.deepcopy(saved)
    clones = [Parameter(p.data.copy()) for p in params]
    resumed = make(clones)
    resumed.load_state_dict(saved)
    steps(opt, params, grads[3:])
    steps(resumed, clones, grads[3:])
    for p, q in zip(params, clones):
        np.testing.assert_array_equal(p.data, q.data)
    # the saved dict holds copies: training on did not change it
    for index, state in saved_copy["state"].items():
        for key, value in state.items():
            np.testing.assert_array_equal(saved["state"][index][key], value)
    assert saved["param_groups"][0]["params"] == [0, 1]


def test_load_state_dict_rejects_mismatches():
    opt = optim.SGD([Parameter(np.ones(2))], lr=0.1, momentum=0.9)
    opt.param_groups[0]["params"][0].grad[...] = 1
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="momentum_buffer of parameter 0 has shape"):
        optim.SGD([Parameter(np.ones(3))], lr=0.1, momentum=0.9).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 saved 1 parameters"):
        optim.SGD([Parameter(np.ones(2)), Parameter(np.ones(2))], lr=0.1).load_state_dict(saved)


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD(p, lr=-0.1), "lr must be >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-1), "momentum must be >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, l1=-1), "l1 must be >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), "betas"),
    (lambda p: optim.Adam(p, eps=-1e-8), "eps must be >= 0"),
    (lambda p: optim.AdamW(p, weight_decay=-1), "weight_decay must be >= 0"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD(p + p, lr=0.1), "more than once"),
    (lambda p: optim.SGD([{"params": p, "lrr": 1}], lr=0.1), "unknown hyper-parameters"),
])
def test_bad_hyper_parameters(make, message):
    with pytest.raises(ValueError, match=message):
        make([Parameter(np.ones(2))])


def test_bad_params_types():
    with pytest.raises(TypeError, match="fastnn.nn.Parameter"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(Parameter(np.ones(2)), lr=0.1)
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.SGD([Parameter(np.ones(2))], lr="0.1")


def test_kernel_rejects_what_would_go_out_of_bounds():
    p = Parameter(np.ones(4))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(3)
    with pytest.raises(ValueError, match="grad must be a contiguous float64 array of 4 elements"):
        opt.step()
    p.grad = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="grad must be"):
        opt.step()
    p.grad = np.ones(4)
    with pytest.raises(ValueError, match="C-contiguous"):  # the shell, below Parameter's checks
        _core.sgd_step(np.ones(8)[::2], np.ones(4), None, 0.1, 0, 0, False, 0, 0, False)
    with pytest.raises(TypeError, match="float32 or float64"):
        _core.sgd_step(np.ones(4, np.int64), np.ones(4), None, 0.1, 0, 0, False, 0, 0, False)


def test_assigning_data_checks_shape_and_dtype_and_names_the_parameter():
    p = Parameter(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"Parameter \(2, 3\) float32: data must have shape \(2, 3\), got \(3, 2\)"):
        p.data = np.ones((3, 2), np.float32)
    with pytest.raises(TypeError, match="data must be float32, got int64|cannot be None"):
        p.data = None
    with pytest.raises(TypeError, match="data must be float32"):
        p.data = np.ones((2, 3), np.complex64)
    p.data = np.arange(6.0).reshape(3, 2).T  # a transposed view of the right shape: made contiguous
    assert p.data.flags.c_contiguous and p.data.dtype == np.float32
    np.testing.assert_array_equal(p.data, np.arange(6.0).reshape(3, 2).T)
    with pytest.raises(ValueError, match="step counts from 1"):
        _core.adam_step(np.ones(2), np.ones(2), np.ones(2), np.ones(2), None, 0.1, 0.9, 0.9, 1e-8, 0, False, 0)


# ---------------------------------------------------------------- schedules

def test_step_lr_and_exponential_lr():
    a, b = Parameter(np.ones(1)), Parameter(np.ones(1))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 2.0}], lr=1.0)
    schedule = optim.StepLR(opt, step_size=3, gamma=0.5)
    seen = [schedule.get_last_lr()]
    for _ in range(7):
        opt.step()
        schedule.step()
        seen.append(schedule.get_last_lr())
    expected = [[0.5 ** (epoch // 3), 2.0 * 0.5 ** (epoch // 3)] for epoch in range(8)]
    np.testing.assert_allclose(seen, expected)
    assert [g["lr"] for g in opt.param_groups] == seen[-1]

    opt = optim.Adam([Parameter(np.ones(1))], lr=0.1)
    schedule = optim.ExponentialLR(opt, gamma=0.9)
    for _ in range(5):
        schedule.step()
    assert schedule.last_epoch == 5
    np.testing.assert_allclose(opt.param_groups[0]["lr"], 0.1 * 0.9 ** 5)


def test_schedule_state_dict_resumes():
    opt = optim.SGD([Parameter(np.ones(1))], lr=1.0)
    schedule = optim.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        schedule.step()
    state = schedule.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 3
    other = optim.StepLR(optim.SGD([Parameter(np.ones(1))], lr=1.0), step_size=5)
    other.load_state_dict(state)
    assert other.step_size == 2 and other.last_epoch == 3 and other.base_lrs == [1.0]


def test_schedule_bad_input():
    opt = optim.SGD([Parameter(np.ones(1))], lr=1.0)
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="Optimizer"):
        optim.ExponentialLR("not an optimizer", gamma=0.5)
    with pytest.raises(KeyError, match="initial_lr"):
        optim.ExponentialLR(opt, gamma=0.5, last_epoch=3)


# ---------------------------------------------------------------- against torch

TORCH_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize("name, hyper", TORCH_CASES)
def test_matches_torch_optim(name, hyper):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((6, 5))
    grads = [rng.standard_normal((6, 5)) * 0.7 ** i for i in range(6)]
    ours = run(getattr(optim, name), w0, grads, **hyper)
    weight = torch.nn.Parameter(torch.tensor(w0))
    opt = getattr(torch.optim, name)([weight], **hyper)
    for g in grads:
        weight.grad = torch.tensor(g)
        opt.step()
    np.testing.assert_allclose(ours, weight.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    for ours_cls, torch_cls, kwargs in [(optim.StepLR, torch.optim.lr_scheduler.StepLR, dict(step_size=3, gamma=0.3)),
                                        (optim.ExponentialLR, torch.optim.lr_scheduler.ExponentialLR, dict(gamma=0.8))]:
        ours_opt = optim.SGD([Parameter(np.ones(1))], lr=0.5)
        torch_opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.5)
        ours, theirs = ours_cls(ours_opt, **kwargs), torch_cls(torch_opt, **kwargs)
        for _ in range(8):
            ours_opt.step()
            torch_opt.step()
            ours.step()
            theirs.step()
            np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-15)
