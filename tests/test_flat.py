"""Parameters as views into one flat buffer: the same numbers as separate tensors, one C call."""
import numpy as np
import pytest

from fastnn import nn, optim


def mlp(dtype, seed=0):
    return nn.Sequential(nn.Linear(5, 7, rng=seed, dtype=dtype), nn.Tanh(),
                         nn.Linear(7, 3, rng=seed + 1, dtype=dtype))


def train(model, make_optimizer, steps=4, dtype=np.float64):
    rng = np.random.default_rng(3)
    opt = make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        x = rng.standard_normal((6, 5)).astype(dtype)
        y = rng.integers(0, 3, 6)
        opt.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward(), need_input_grad=False)
        opt.step()
    return opt


RULES = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3, l1=1e-4),
    "nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=1e-3),
    "amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01),
}


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flat_model_trains_to_the_same_bits_as_separate_tensors(rule, dtype):
    separate, flat_model = mlp(dtype), mlp(dtype)
    flat = flat_model.flatten_parameters()
    opt = train(flat_model, RULES[rule], dtype=dtype)
    train(separate, RULES[rule], dtype=dtype)
    for a, b in zip(separate.parameters(), flat_model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
        assert np.shares_memory(b.data, flat.data) and np.shares_memory(b.grad, flat.grad)
    for p in flat_model.parameters():  # per-parameter state entries are views of one flat array
        for value in opt.state[p].values():
            if isinstance(value, np.ndarray):
                assert value.shape == p.data.shape and value.base is not None


def test_flat_state_dict_round_trips_into_a_fresh_optimizer():
    model = mlp(np.float64)
    model.flatten_parameters()
    opt = train(model, RULES["adam"], steps=2)
    saved = opt.state_dict()
    twin = mlp(np.float64)
    twin.load_state_dict(model.state_dict())
    twin.flatten_parameters()
    opt2 = optim.Adam(twin.parameters(), lr=0.01, weight_decay=1e-3)
    opt2.load_state_dict(saved)
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((4, 5)), rng.integers(0, 3, 4)
    for m, o in ((model, opt), (twin, opt2)):
        o.zero_grad()
        loss_fn = nn.CrossEntropyLoss()
        loss_fn(m(x), y)
        m.backward(loss_fn.backward())
        o.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_flatten_keeps_values_and_pending_gradients_and_assignment_copies_in():
    model = mlp(np.float32)
    before = [p.data.copy() for p in model.parameters()]
    model[0].weight.grad[...] = 2.0
    flat = model.flatten_parameters()
    assert flat.data.size == 5 * 7 + 7 + 7 * 3 + 3
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    assert (model[0].weight.grad == 2.0).all() and not model[2].weight.grad.any()
    model[0].bias.data = np.arange(7, dtype=np.float32)
    np.testing.assert_array_equal(flat.data[35:42], np.arange(7))


def test_a_gradient_replaced_by_the_user_takes_that_parameter_out_of_the_flat_step():
    model = mlp(np.float64)
    model.flatten_parameters()
    twin = mlp(np.float64)
    for p in (model[0].bias, twin[0].bias):
        p.grad = np.full(7, 0.5)
    for m in (model, twin):
        optim.SGD(m.parameters(), lr=0.1, momentum=0.5).step()
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_flatten_refuses_mixed_dtypes_and_nothing():
    model = nn.Sequential(nn.Linear(2, 2, dtype=np.float32), nn.Linear(2, 2, dtype=np.float64))
    with pytest.raises(TypeError, match="mix dtypes"):
        model.flatten_parameters()
    with pytest.raises(ValueError, match="no parameters"):
        nn.Sequential(nn.ReLU()).flatten_parameters()
