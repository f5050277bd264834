"""Parameters, their gradients and optimizer state start on a cache line (fastnn/_aligned.py),
so the batch-1 step's full-width loads and stores never straddle two lines; and that alignment
must not cost the flattened model its one-pass optimizer step, nor be lost on a round trip."""
import copy
import pickle

import numpy as np
import pytest

from fastnn import _aligned, nn, optim


def on_line(array):
    return array.ctypes.data % 64 == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 3, 4)])
def test_arrays_start_on_a_cache_line(dtype, shape):
    for _ in range(20):  # numpy's own allocations land at varying offsets
        a = _aligned.empty(shape, dtype)
        z = _aligned.zeros(shape, dtype)
        f = _aligned.full(shape, 2.5, dtype)
        assert on_line(a) and on_line(z) and on_line(f)
        assert a.shape == z.shape == f.shape == shape and a.dtype == z.dtype == f.dtype == dtype
        assert a.flags.c_contiguous and a.flags.writeable
        assert not z.any() and (f == 2.5).all()


def test_on_cache_line_copies_only_what_is_off_the_line():
    aligned = _aligned.full((4, 6), 1.5, np.float32)
    assert _aligned.on_cache_line(aligned) is aligned
    off = aligned.reshape(-1)[1:]  # 4 bytes past the line
    moved = _aligned.on_cache_line(off)
    assert on_line(moved) and not np.shares_memory(moved, off) and np.array_equal(moved, off)
    transposed = _aligned.on_cache_line(aligned.T)
    assert on_line(transposed) and transposed.flags.c_contiguous and np.array_equal(transposed, aligned.T)


def mlp(flatten):
    model = nn.Sequential(nn.Linear(13, 32, rng=0), nn.ReLU(), nn.Linear(32, 3, rng=1))
    if flatten:
        model.flatten_parameters()
    return model


def train_step(model, opt):
    opt.zero_grad()
    loss = nn.CrossEntropyLoss()
    loss(model(np.linspace(-1, 1, 26, dtype=np.float32).reshape(2, 13)), np.array([0, 2]))
    model.backward(loss.backward())
    opt.step()


@pytest.mark.parametrize("flatten", [False, True])
def test_model_parameters_and_sgd_state_are_aligned(flatten):
    """Every parameter's data, grad and momentum, over two steps; in a flat buffer each starts
    where its offset puts it from the buffer's (and the run's state's) start on a line."""
    model = mlp(flatten)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        train_step(model, opt)
        for p in model.parameters():
            skip = 0
            if flatten:
                flat, start = p._flat
                skip = start * p.data.itemsize
                assert on_line(flat.data) and on_line(flat.grad)
                assert p.data.ctypes.data == flat.data.ctypes.data + skip
                assert p.grad.ctypes.data == flat.grad.ctypes.data + skip
            for array in (p.data, p.grad, opt.state[p]["momentum_buffer"]):
                assert (array.ctypes.data - skip) % 64 == 0


@pytest.mark.parametrize("make", [
    lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
    lambda params: optim.Adam(params, lr=0.01),
    lambda params: optim.AdamW(params, lr=0.01, amsgrad=True),
], ids=["sgd-momentum", "adam", "adamw-amsgrad"])
@pytest.mark.parametrize("units", ["kept", "re-derived"])
def test_flattened_model_is_stepped_in_one_pass_every_step(make, units):
    """Every step updates the run in one pass, and gives the per-parameter path's values: with
    the step's units kept from the first step, and with them re-derived each step, where the
    run's flat state must be recognised (its arrays start on a cache line, so their views' .base
    is a byte buffer, not the flat state)."""
    flat_model, model = mlp(True), mlp(False)
    flat_opt, opt = make(flat_model.parameters()), make(model.parameters())
    runs, stepped = [], []
    recognise, step_units = flat_opt._flat_state, flat_opt._step_units
    flat_opt._flat_state = lambda *args: runs.append(recognise(*args)) or runs[-1]
    flat_opt._step_units = lambda *args: stepped.append(step_units(*args)) or stepped[-1]
    for step in range(3):
        if units == "re-derived":
            flat_opt.__dict__.pop("_step_unit_cache", None)
        train_step(flat_model, flat_opt)
        train_step(model, opt)
        assert len(runs) == (1 if units == "kept" else step + 1) and runs[-1] is not None
        assert runs[-1][0].shape == (547,)
        (data, grad, arrays, states), = stepped[-1]
        assert data.shape == grad.shape == (547,) and len(states) == 4
        assert all(array is run for array, run in zip(arrays, runs[-1]))
        for flat_p, p in zip(flat_model.parameters(), model.parameters()):
            np.testing.assert_allclose(flat_p.data, p.data, rtol=1e-6, atol=1e-7)
            for name, value in flat_opt.state[flat_p].items():
                if isinstance(value, np.ndarray):
                    assert any(np.shares_memory(value, array) for array in runs[-1])
                    np.testing.assert_allclose(value, opt.state[p][name], rtol=1e-6, atol=1e-7)


def test_loaded_or_replaced_state_leaves_the_flat_path():
    model = mlp(True)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train_step(model, opt)
    params = list(model.parameters())
    opt.state[params[1]]["momentum_buffer"] = opt.state[params[1]]["momentum_buffer"].copy()
    assert opt._flat_state(params[0]._flat[0], 0, 547, params, ["momentum_buffer"], None) is None
    opt.load_state_dict(opt.state_dict())
    assert opt._flat_state(params[0]._flat[0], 0, 547, params, ["momentum_buffer"], None) is None
    before = [p.data.copy() for p in params]
    train_step(model, opt)  # stepped per parameter, still correctly
    assert all(not np.array_equal(b, p.data) for b, p in zip(before, params))


def layers():
    return [nn.Linear(5, 7, rng=0), nn.Conv1d(3, 4, 3, rng=0), nn.Conv2d(2, 3, (2, 3), rng=0),
            nn.BatchNorm1d(5), nn.BatchNorm2d(3), nn.LayerNorm((2, 5))]


def test_every_layer_makes_its_parameters_on_a_cache_line():
    for _ in range(10):  # numpy's own 16-byte alignment lands on a line one time in four
        for layer in layers():
            for p in layer.parameters():
                assert on_line(p.data) and on_line(p.grad), type(layer).__name__
    bn, ln = nn.BatchNorm1d(5), nn.LayerNorm(4, dtype=np.float64)
    assert (bn.weight.data == 1).all() and (bn.bias.data == 0).all()
    assert (ln.weight.data == 1).all() and (ln.bias.data == 0).all() and ln.weight.dtype == np.float64


@pytest.mark.parametrize("flatten", [False, True])
@pytest.mark.parametrize("round_trip", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_round_trips_keep_parameters_on_a_cache_line(flatten, round_trip):
    for _ in range(3):
        model = mlp(flatten)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        train_step(model, opt)
        model[0].weight.zero_grad()
        copied = round_trip(model)
        for p, q in zip(model.parameters(), copied.parameters()):
            assert on_line(q.data) and (flatten or on_line(q.grad))
            assert np.array_equal(p.data, q.data) and np.array_equal(p.grad, q.grad)
            assert not np.shares_memory(p.data, q.data)
        if flatten:  # still views of one (new) flat buffer, which starts on a line
            flat = next(iter(copied.parameters()))._flat[0]
            assert flat is not next(iter(model.parameters()))._flat[0]
            assert on_line(flat.data) and on_line(flat.grad)
            for q, start in zip(copied.parameters(), flat.offsets):
                assert q._flat[0] is flat and q._flat[1] == start
                assert q.data.ctypes.data == flat.data.ctypes.data + start * q.data.itemsize
                assert q.grad.ctypes.data == flat.grad.ctypes.data + start * q.grad.itemsize
            copied_opt = optim.SGD(copied.parameters(), lr=0.1, momentum=0.9)
            runs = []
            recognise = copied_opt._flat_state
            copied_opt._flat_state = lambda *args: runs.append(recognise(*args)) or runs[-1]
            train_step(copied, copied_opt)
            copied_opt.__dict__.pop("_step_unit_cache")  # the next step derives its units again
            train_step(copied, copied_opt)
            assert len(runs) == 2 and None not in runs


def test_round_trip_leaves_out_a_parameter_whose_grad_was_rebound():
    model = mlp(True)
    bias = model[0].bias
    bias.grad = None  # no longer a view of the flat gradient: it left the buffer
    for copied in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        q = copied[0].bias
        assert q.grad is None and on_line(q.data)
        np.testing.assert_array_equal(q.data, bias.data)
        weight = copied[0].weight
        assert weight.data.ctypes.data == weight._flat[0].data.ctypes.data


def test_loaded_optimizer_state_is_a_copy_on_a_cache_line():
    for _ in range(3):
        model = mlp(False)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        train_step(model, opt)
        saved = opt.state_dict()
        saved["state"] = {i: {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v
                                  for k, v in s.items()} for i, s in saved["state"].items()}
        loaded = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loaded.load_state_dict(saved)
        for i, p in enumerate(model.parameters()):
            momentum = loaded.state[p]["momentum_buffer"]
            assert on_line(momentum) and momentum.dtype == np.float32
            np.testing.assert_array_equal(momentum, saved["state"][i]["momentum_buffer"].astype(np.float32))


def test_assigned_data_is_bound_as_it_is():
    """torch's `p.data = t` shares t's memory; so does fastnn's, wherever t starts."""
    p = nn.Linear(4, 3, rng=0).weight
    off_line = np.zeros(13, np.float32)[1:].reshape(3, 4)
    p.data = off_line
    assert p.data is off_line


def test_docstring_examples_run():
    import doctest
    from fastnn.nn import parameter
    assert doctest.testmod(_aligned, raise_on_error=True).attempted > 0
    assert doctest.testmod(parameter, raise_on_error=True).attempted > 0
