"""RMSprop, Adagrad and the schedules MultiStepLR, CosineAnnealingLR, LambdaLR, OneCycleLR and
ReduceLROnPlateau against torch.optim (when installed) step for step, and their bad input."""
import numpy as np
import pytest

from fastnn import optim
from fastnn.nn import Parameter


def run_both(make_ours, make_theirs, steps=6, dtype=np.float64, seed=0):
    """Weights after `steps` updates from the same gradients, ours and torch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal((5, 3)).astype(dtype)
    ours, theirs = Parameter(w0.copy()), torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = make_ours([ours]), make_theirs([theirs])
    for _ in range(steps):
        g = rng.standard_normal(w0.shape).astype(dtype)
        opt.zero_grad()
        ours.grad[...] = g
        theirs.grad = torch.tensor(g)
        opt.step()
        topt.step()
    return ours.data, theirs.detach().numpy()


RMSPROP_CASES = [dict(), dict(lr=0.05, alpha=0.9, weight_decay=0.1), dict(momentum=0.8),
                 dict(centered=True), dict(centered=True, momentum=0.5, weight_decay=0.01, eps=1e-6)]
ADAGRAD_CASES = [dict(), dict(lr=0.3, lr_decay=0.1), dict(weight_decay=0.2, initial_accumulator_value=0.5),
                 dict(eps=1e-3)]


@pytest.mark.parametrize("kwargs", RMSPROP_CASES)
def test_rmsprop_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = run_both(lambda p: optim.RMSprop(p, **kwargs), lambda p: torch.optim.RMSprop(p, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", ADAGRAD_CASES)
def test_adagrad_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = run_both(lambda p: optim.Adagrad(p, **kwargs), lambda p: torch.optim.Adagrad(p, **kwargs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_adaptive_optimizers_in_float32_and_on_flat_buffers():
    torch = pytest.importorskip("torch")
    ours, theirs = run_both(lambda p: optim.RMSprop(p, centered=True, momentum=0.9),
                            lambda p: torch.optim.RMSprop(p, centered=True, momentum=0.9),
                            dtype=np.float32)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    from fastnn import nn
    for make in (lambda ps: optim.RMSprop(ps, momentum=0.5), lambda ps: optim.Adagrad(ps, lr=0.1)):
        flat, apart = (nn.Sequential(nn.Linear(3, 4, rng=0), nn.Linear(4, 2, rng=1)) for _ in range(2))
        flat.flatten_parameters()
        opts = [make(list(m.parameters())) for m in (flat, apart)]
        for step in range(3):
            for model, opt in zip((flat, apart), opts):
                opt.zero_grad()
                for i, p in enumerate(model.parameters()):
                    p.grad[...] = np.sin(np.arange(p.size) + i + step).reshape(p.shape)
                opt.step()
        for a, b in zip(flat.parameters(), apart.parameters()):
            np.testing.assert_array_equal(a.data, b.data)


def test_adaptive_optimizers_reject_bad_hyper_parameters():
    p = [Parameter(np.zeros(2))]
    with pytest.raises(ValueError, match="RMSprop: alpha must be >= 0"):
        optim.RMSprop(p, alpha=-0.1)
    with pytest.raises(ValueError, match="Adagrad: lr_decay must be >= 0"):
        optim.Adagrad(p, lr_decay=-1)
    with pytest.raises(ValueError, match="unknown hyper-parameters"):
        optim.Adagrad([{"params": p, "momentum": 0.9}])


def lr_trace(scheduler, optimizer, steps, metrics=None):
    lrs = []
    for i in range(steps):
        optimizer.step()
        scheduler.step(*([metrics[i]] if metrics is not None else []))
        lrs.append([g["lr"] for g in optimizer.param_groups])
    return np.array(lrs)


SCHEDULES = {
    "multistep": (lambda o, T: T.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3), 12, "SGD", {}),
    "cosine": (lambda o, T: T.CosineAnnealingLR(o, T_max=4, eta_min=0.01), 15, "SGD", {}),
    "lambda": (lambda o, T: T.LambdaLR(o, lambda e: 1 / (1 + e)), 8, "SGD", {}),
    "onecycle": (lambda o, T: T.OneCycleLR(o, max_lr=0.5, total_steps=20), 19, "SGD", {"momentum": 0.9}),
    "onecycle_linear_three_phase": (
        lambda o, T: T.OneCycleLR(o, max_lr=[0.5], epochs=3, steps_per_epoch=7, anneal_strategy="linear",
                                  three_phase=True, pct_start=0.25), 20, "Adam", {}),
    "onecycle_rmsprop": (lambda o, T: T.OneCycleLR(o, max_lr=0.1, total_steps=12, div_factor=5), 11,
                         "RMSprop", {"momentum": 0.5}),
    "plateau": (lambda o, T: T.ReduceLROnPlateau(o, patience=2, factor=0.5, cooldown=1, threshold=0.01), 20,
                "SGD", {}),
    "plateau_max_abs": (lambda o, T: T.ReduceLROnPlateau(o, mode="max", patience=1, threshold=0.1,
                                                        threshold_mode="abs", min_lr=0.05), 20, "SGD", {}),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_match_torch(name):
    torch = pytest.importorskip("torch")
    make, steps, optimizer_name, kwargs = SCHEDULES[name]
    metrics = list(np.r_[np.linspace(1, 0.5, 5), np.full(15, 0.5)] * (-1 if "max" in name else 1))
    metrics = metrics if "plateau" in name else None
    ours_opt = getattr(optim, optimizer_name)([Parameter(np.zeros(2))], lr=0.1, **kwargs)
    theirs_opt = getattr(torch.optim, optimizer_name)([torch.zeros(2, requires_grad=True)], lr=0.1, **kwargs)
    ours = lr_trace(make(ours_opt, optim), ours_opt, steps, metrics)
    theirs = lr_trace(make(theirs_opt, torch.optim.lr_scheduler), theirs_opt, steps, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    if "onecycle" in name:
        key = "betas" if optimizer_name == "Adam" else "momentum"
        np.testing.assert_allclose(np.ravel(ours_opt.param_groups[0][key]),
                                   np.ravel(theirs_opt.param_groups[0][key]), rtol=1e-12)


def test_schedules_reject_bad_input():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="T_max must be a positive int"):
        optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="give total_steps, or epochs and steps_per_epoch"):
        optim.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="no momentum or beta1"):
        optim.OneCycleLR(optim.Adagrad([Parameter(np.zeros(1))]), max_lr=1.0, total_steps=3)
    schedule = optim.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    schedule.step()
    schedule.step()
    with pytest.raises(ValueError, match="beyond total_steps=2"):
        schedule.step()
    with pytest.raises(ValueError, match="one function or 1 functions"):
        optim.LambdaLR(opt, [lambda e: 1.0, lambda e: 2.0])
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        optim.ReduceLROnPlateau(opt, mode="up")
