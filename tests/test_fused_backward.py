"""model.backward(grad, optimizer=opt): the optimizer inside an eager backward equals backward()
followed by opt.step() to rounding, for every rule, both dtypes, each weight-gradient path (few
rows, row blocks, GEMM write-back), every instruction set, with schedulers, gradient
accumulation, parameters outside Linear layers and outside the optimizer."""
import numpy as np
import pytest

from fastnn import nn, optim

from test_plan import RULES, batch, tolerance
from test_plan import assert_same_parameters as assert_same, mlp as plan_mlp

DTYPES = (np.float32, np.float64)
BATCHES = (1, 3, 9, 70)  # csrc/fused_optim.h: few-row sums, row blocks, the GEMM's write-back


def mlp(dtype, sizes=(6, 19, 17, 3)):
    """test_plan's model, with this file's wider default widths"""
    return plan_mlp(dtype, sizes=sizes)


def plain(model, opt, x, y, need_input_grad=False):
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(x), y)
    dx = model.backward(loss_fn.backward(), need_input_grad=need_input_grad)
    opt.step()
    return dx


def fused(model, opt, x, y, need_input_grad=False):
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(x), y)
    return model.backward(loss_fn.backward(), need_input_grad=need_input_grad, optimizer=opt)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("rows", BATCHES)
def test_backward_with_optimizer_equals_backward_then_step(rule, dtype, rows):
    a, b = mlp(dtype), mlp(dtype)
    opt_a, opt_b = RULES[rule](a.parameters()), RULES[rule](b.parameters())
    for seed in range(3):
        x, y = batch(dtype, rows, seed=seed)
        opt_a.zero_grad()
        opt_b.zero_grad()
        dx_a = plain(a, opt_a, x, y, need_input_grad=seed == 2)
        dx_b = fused(b, opt_b, x, y, need_input_grad=seed == 2)
    np.testing.assert_allclose(dx_b, dx_a, **tolerance(dtype))  # from the weights before the step
    assert_same(a, b, dtype)
    weight = b[0].weight
    assert not weight.grad.any()  # consumed by the fused update
    assert b[0].bias.grad.any()  # stepped by the plain rule after: its gradient stays


@pytest.mark.parametrize("rows", BATCHES)
def test_every_instruction_set(isa, rows):
    for rule in ("sgd_nesterov_decay_l1", "adam_amsgrad"):
        a, b = mlp(np.float32, sizes=(37, 40, 33, 5)), mlp(np.float32, sizes=(37, 40, 33, 5))
        opt_a, opt_b = RULES[rule](a.parameters()), RULES[rule](b.parameters())
        for seed in range(2):
            x, y = batch(np.float32, rows, features=37, classes=5, seed=seed)
            opt_a.zero_grad()
            opt_b.zero_grad()
            plain(a, opt_a, x, y)
            fused(b, opt_b, x, y)
        assert_same(a, b, np.float32)


@pytest.mark.parametrize("rule", ("sgd_momentum", "adamw"))
def test_schedulers_and_gradient_accumulation(rule):
    """Two micro-batches accumulated by plain backward(), the third's backward steps with the
    sum; a StepLR moves the rate between steps; a flattened model shares its flat state."""
    dtype = np.float64
    a, b = mlp(dtype), mlp(dtype)
    b.flatten_parameters()
    opt_a, opt_b = RULES[rule](a.parameters()), RULES[rule](b.parameters())
    sched_a, sched_b = optim.StepLR(opt_a, 2, gamma=0.5), optim.StepLR(opt_b, 2, gamma=0.5)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    for step in range(5):
        opt_a.zero_grad()
        opt_b.zero_grad()
        for micro in range(3):
            x, y = batch(dtype, 4 + micro, seed=10 * step + micro)
            for model in (a, b):
                loss_fn(model(x), y)
                if model is b and micro == 2:
                    model.backward(loss_fn.backward(), need_input_grad=False, optimizer=opt_b)
                else:
                    model.backward(loss_fn.backward(), need_input_grad=False)
        opt_a.step()
        sched_a.step()
        sched_b.step()
    assert_same(a, b, dtype)


def test_mixing_plain_and_fused_steps_and_other_layers():
    """Plain steps and fused ones share the optimizer's state; a LayerNorm's parameters and a
    Linear outside the optimizer are left to the plain rule and to .grad."""
    def model():
        return nn.Sequential(nn.Linear(6, 12, rng=0), nn.LayerNorm(12), nn.GELU(),
                             nn.Linear(12, 3, rng=1))
    a, b = model(), model()
    frozen_a, frozen_b = a[3].weight, b[3].weight
    opt_a = optim.Adam([p for p in a.parameters() if p is not frozen_a], lr=0.01)
    opt_b = optim.Adam([p for p in b.parameters() if p is not frozen_b], lr=0.01)
    for seed in range(4):
        x, y = batch(np.float32, 5, seed=seed)
        opt_a.zero_grad()
        opt_b.zero_grad()
        plain(a, opt_a, x, y)
        (plain if seed % 2 else fused)(b, opt_b, x, y)
    assert_same(a, b, np.float32)
    np.testing.assert_allclose(frozen_b.grad, frozen_a.grad, **tolerance(np.float32))


def test_what_cannot_be_fused_says_so():
    model = mlp(np.float32)
    x, y = batch(np.float32, 2)
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(x), y)
    grad = loss_fn.backward()
    with pytest.raises(TypeError, match="RMSprop cannot be fused"):
        model.backward(grad, optimizer=optim.RMSprop(model.parameters()))
    with pytest.raises(TypeError, match="optimizer must be"):
        model.backward(grad, optimizer="sgd")


def test_docstring_example_runs():
    import doctest
    from fastnn.nn import fused_backward
    assert doctest.testmod(fused_backward, raise_on_error=True).attempted > 0


def test_bf16_layers_are_stepped_by_the_plain_rule_after():
    """A bf16 layer's dW is a bf16 product: its weight is left to the plain step after the
    backward, so the result still equals backward() + step()."""
    def model():
        return mlp(np.float32, sizes=(37, 40, 33, 5)).to_precision("bf16")
    a, b = model(), model()
    opt_a, opt_b = RULES["adamw"](a.parameters()), RULES["adamw"](b.parameters())
    for seed in range(3):
        x, y = batch(np.float32, 9, features=37, classes=5, seed=seed)
        opt_a.zero_grad()
        opt_b.zero_grad()
        plain(a, opt_a, x, y)
        fused(b, opt_b, x, y)
    assert_same(a, b, np.float32)
