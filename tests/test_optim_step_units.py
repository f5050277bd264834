"""An optimizer keeps the units of a step (what each C call updates) from one step to the next
(optim.Optimizer._step_units): whatever a user rebinds, zeroes, replaces or adds between steps,
the next step must update exactly what a fresh optimizer in the same state would."""
import copy

import numpy as np
import pytest

from fastnn import nn, optim

OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.1),
    "sgd-momentum": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    "adam": lambda params: optim.Adam(params, lr=0.01),
    "rmsprop": lambda params: optim.RMSprop(params, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda params: optim.Adagrad(params, lr=0.1),
}


def model(flatten):
    net = nn.Sequential(nn.Linear(6, 5, rng=0), nn.Tanh(), nn.Linear(5, 3, rng=1))
    if flatten:
        net.flatten_parameters()
    return net


def gradients(net, seed):
    """Set every .grad to values drawn from seed (as a backward would leave them)."""
    rng = np.random.default_rng(seed)
    for p in net.parameters():
        p.grad[...] = rng.standard_normal(p.data.shape)


def fresh_reference(net, opt, make):
    """A copy of net and of opt's state, stepped by a new optimizer made of the copy: what the
    next step of opt must do."""
    twin = copy.deepcopy((net, opt))
    twin_opt = make(twin[0].parameters())
    twin_opt.load_state_dict(twin[1].state_dict())
    return twin[0], twin_opt


def assert_same_step(net, opt, make, seed):
    """Step opt (its units kept) and a fresh optimizer in the same state on the same gradients."""
    ref_net, ref_opt = fresh_reference(net, opt, make)
    for p, q in zip(net.parameters(), ref_net.parameters()):  # read without materialising
        q.grad = np.zeros_like(p.data) if p._grad_zeroed else np.array(p._grad)
    opt.step()
    ref_opt.step()
    for p, q in zip(net.parameters(), ref_net.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("flatten", [True, False], ids=["flat", "apart"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_changes_between_steps_are_seen(name, flatten):
    make = OPTIMIZERS[name]
    net = model(flatten)
    opt = make(net.parameters())
    params = list(net.parameters())
    gradients(net, 0)
    opt.step()
    # a step with nothing changed: the kept units
    gradients(net, 1)
    assert_same_step(net, opt, make, 1)
    # .grad rebound to the user's own array: that array is read
    params[0].grad = np.full(params[0].data.shape, 0.25, params[0].data.dtype)
    assert_same_step(net, opt, make, 2)
    # a gradient zeroed lazily, no backward since: the step reads zeros
    gradients(net, 3)
    params[2].zero_grad()
    assert_same_step(net, opt, make, 3)
    assert not params[2]._grad_zeroed and not params[2].grad.any()
    # a state array replaced by the user: that array is updated
    for key, value in list(opt.state[params[1]].items()):
        if isinstance(value, np.ndarray):
            opt.state[params[1]][key] = value + 0.5
    gradients(net, 4)
    assert_same_step(net, opt, make, 4)
    # .data assigned: the values are the new ones
    params[3].data = np.full(params[3].data.shape, 0.75, params[3].data.dtype)
    gradients(net, 5)
    assert_same_step(net, opt, make, 5)


def test_a_parameter_appended_to_its_group_is_stepped():
    net = model(True)
    extra = nn.Parameter(np.ones(4, np.float32))
    opt = optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    gradients(net, 0)
    opt.step()
    opt.param_groups[0]["params"].append(extra)
    extra.grad[...] = 1.0
    opt.step()
    np.testing.assert_allclose(extra.data, 0.5)


def test_a_parameter_replaced_in_its_group_is_stepped_in_its_place():
    net = model(True)
    opt = optim.SGD(net.parameters(), lr=0.5)
    gradients(net, 0)
    opt.step()
    replaced = opt.param_groups[0]["params"][1]
    kept = replaced.data.copy()
    newcomer = nn.Parameter(np.ones(replaced.data.shape, np.float32))
    opt.param_groups[0]["params"][1] = newcomer
    newcomer.grad[...] = 1.0
    opt.step()
    np.testing.assert_allclose(newcomer.data, 0.5)
    np.testing.assert_array_equal(replaced.data, kept)


def test_a_gradient_rebound_to_none_is_named_on_a_later_step():
    net = model(True)
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    gradients(net, 0)
    opt.step()
    list(net.parameters())[1].grad = None
    with pytest.raises(TypeError, match="parameter 1 of group 0: .grad is NoneType"):
        opt.step()


def test_reflattening_between_steps_moves_the_update_to_the_new_buffer():
    net = model(True)
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    gradients(net, 0)
    opt.step()
    flat = net.flatten_parameters()
    gradients(net, 1)
    before = flat.data.copy()
    opt.step()
    assert not np.array_equal(before, flat.data)
    for p in net.parameters():
        assert np.shares_memory(p.data, flat.data)
