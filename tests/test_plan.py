"""Compiled plans (fastnn/nn/plan.py): the compiled step and the optimizer fused into backward
against the plain loop (forward, loss, backward, optimizer.step()), on every layer the plan runs,
every rule, both dtypes, each of the weight-gradient paths (few rows, row blocks, GEMM strips),
gradient accumulation and schedules; the compiled forward against model(x)."""
import numpy as np
import pytest

import fastnn
from fastnn import _core, nn, optim

DTYPES = (np.float32, np.float64)
# 1-4 rows: few-row sums; 5-64: row blocks; above: the GEMM's write-back (csrc/fused_optim.h)
BATCHES = (1, 3, 9, 70)
RULES = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.05),
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1),
    "sgd_nesterov_decay_l1": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True,
                                                  weight_decay=0.01, l1=0.001),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01),
    "adam_amsgrad": lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
}


def tolerance(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)


def mlp(dtype, seed=0, sizes=(6, 9, 7, 3)):
    return nn.Sequential(nn.Linear(sizes[0], sizes[1], rng=seed, dtype=dtype), nn.ReLU(),
                         nn.Linear(sizes[1], sizes[2], rng=seed + 1, dtype=dtype), nn.Tanh(),
                         nn.Linear(sizes[2], sizes[3], rng=seed + 2, dtype=dtype))


def batch(dtype, rows, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, features)).astype(dtype), rng.integers(0, classes, rows))


def plain_step(model, loss_fn, opt, x, y):
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    model.backward(loss_fn.backward(), need_input_grad=False)
    opt.step()
    return loss


def assert_same_parameters(a, b, dtype):
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(pb.data, pa.data, err_msg=name, **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("rows", BATCHES)
def test_compiled_step_equals_plain_loop(rule, dtype, rows):
    plain, compiled = mlp(dtype), mlp(dtype)
    plain_opt, compiled_opt = RULES[rule](plain.parameters()), RULES[rule](compiled.parameters())
    loss_fn = nn.CrossEntropyLoss()
    step = compiled.compile_step(nn.CrossEntropyLoss(), compiled_opt)
    for seed in range(3):
        x, y = batch(dtype, rows, seed=seed)
        expected = plain_step(plain, loss_fn, plain_opt, x, y)
        assert step(x, y) == pytest.approx(expected, rel=1e-5 if dtype == np.float32 else 1e-12)
    assert_same_parameters(plain, compiled, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_row_sums_cross_their_column_chunks(dtype):
    """2100 input columns: two chunks of 2048 floats, three of 1024 doubles, each with a tail
    (csrc/fused_optim.c: FEW_ROW_CHUNK)."""
    sizes = (2100, 7, 5, 3)
    plain, compiled = mlp(dtype, sizes=sizes), mlp(dtype, sizes=sizes)
    plain_opt = RULES["sgd_momentum"](plain.parameters())
    step = compiled.compile_step(nn.CrossEntropyLoss(), RULES["sgd_momentum"](compiled.parameters()))
    for seed in range(2):
        x, y = batch(dtype, 3, features=sizes[0], seed=seed)
        plain_step(plain, nn.CrossEntropyLoss(), plain_opt, x, y)
        step(x, y)
    assert_same_parameters(plain, compiled, dtype)


@pytest.mark.parametrize("rows", BATCHES)
def test_every_instruction_set_gives_the_plain_result(isa, rows):
    plain, compiled = mlp(np.float32), mlp(np.float32)
    plain_opt = RULES["sgd_nesterov_decay_l1"](plain.parameters())
    adam_plain = RULES["adam_amsgrad"](plain.parameters())
    step = compiled.compile_step(nn.CrossEntropyLoss(), RULES["sgd_nesterov_decay_l1"](compiled.parameters()))
    adam_step = compiled.compile_step(nn.CrossEntropyLoss(), RULES["adam_amsgrad"](compiled.parameters()))
    loss_fn = nn.CrossEntropyLoss()
    for seed in range(2):
        x, y = batch(np.float32, rows, seed=seed)
        plain_step(plain, loss_fn, plain_opt, x, y)
        step(x, y)
        plain_step(plain, loss_fn, adam_plain, x, y)
        adam_step(x, y)
    assert_same_parameters(plain, compiled, np.float32)


@pytest.mark.parametrize("threads", (1, 2))
@pytest.mark.parametrize("rule", ("sgd", "sgd_momentum", "sgd_nesterov_decay_l1"))
def test_batch_one_steps_each_weight_row_with_its_input_gradient(isa, rule, threads):
    """Batch 1, SGD: the input gradient taken from each weight row just before its update, in one
    pass (vector bodies and tails: 37 and 530 columns); on two threads the second layer
    (530 x 500, above the parallel threshold) takes the row spans instead. Both equal the plain
    loop."""
    sizes = (37, 530, 500, 5)
    plain, compiled = mlp(np.float32, sizes=sizes), mlp(np.float32, sizes=sizes)
    plain_opt, compiled_opt = RULES[rule](plain.parameters()), RULES[rule](compiled.parameters())
    loss_fn = nn.CrossEntropyLoss()
    step = compiled.compile_step(nn.CrossEntropyLoss(), compiled_opt)
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    try:
        for seed in range(3):
            x, y = batch(np.float32, 1, features=sizes[0], classes=sizes[-1], seed=seed)
            plain_step(plain, loss_fn, plain_opt, x, y)
            step(x, y)
    finally:
        fastnn.set_num_threads(before)
    assert_same_parameters(plain, compiled, np.float32)


BEYOND_L2 = {  # a 530 x 500 weight below, above or beside others; activations apart or fused
    "between": lambda dtype: mlp(dtype, sizes=(37, 530, 500, 5)),
    "first": lambda dtype: mlp(dtype, sizes=(500, 530, 37, 5)),
    "fused_activations": lambda dtype: nn.Sequential(
        nn.Linear(37, 530, activation="relu", rng=0, dtype=dtype),
        nn.Linear(530, 500, activation="tanh", rng=1, dtype=dtype),
        nn.Linear(500, 5, rng=2, dtype=dtype)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", ("sgd_nesterov_decay_l1", "adam_amsgrad", "adamw"))
@pytest.mark.parametrize("rows", (9, 70))
@pytest.mark.parametrize("place", sorted(BEYOND_L2))
def test_weights_beyond_l2_take_the_whole_gradient_then_one_update(rule, dtype, rows, place):
    """A 530 x 500 weight (1 MiB and more: csrc/fused_optim.h) gets dW from one GEMM, then one
    update pass, which the compiled step runs after the next layer's delta (or last); with an
    accumulation step before, the sum."""
    plain, compiled = BEYOND_L2[place](dtype), BEYOND_L2[place](dtype)
    sizes = (plain[0].in_features, None, None, plain[-1].out_features)
    plain_opt, compiled_opt = RULES[rule](plain.parameters()), RULES[rule](compiled.parameters())
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    step = compiled.compile_step(nn.CrossEntropyLoss(reduction="sum"), compiled_opt)
    for seed in range(2):
        micro = [batch(dtype, rows, features=sizes[0], classes=sizes[-1], seed=2 * seed + i) for i in range(2)]
        plain_opt.zero_grad()
        for x, y in micro:
            loss_fn(plain(x), y)
            plain.backward(loss_fn.backward(), need_input_grad=False)
        plain_opt.step()
        step(*micro[0], update=False)
        step(*micro[1])
    assert_same_parameters(plain, compiled, dtype)


LAYERS = {
    "activations_fused": lambda d: nn.Sequential(
        nn.Linear(5, 8, rng=0, dtype=d), nn.GELU(), nn.Linear(8, 8, rng=1, dtype=d), nn.Sigmoid(),
        nn.Linear(8, 6, rng=2, dtype=d), nn.GELU(approximate="tanh"), nn.Linear(6, 4, rng=3, dtype=d)),
    "activation_modules_alone": lambda d: nn.Sequential(
        nn.Tanh(), nn.Linear(5, 8, activation="relu", rng=0, dtype=d), nn.GELU(),
        nn.Linear(8, 4, activation="sigmoid", rng=1, dtype=d), nn.ReLU()),
    "identity_nested_no_bias": lambda d: nn.Sequential(
        nn.Identity(), nn.Sequential(nn.Linear(5, 7, bias=False, rng=0, dtype=d), nn.Tanh()),
        nn.Linear(7, 4, rng=1, dtype=d), nn.Identity()),
    "single_linear": lambda d: nn.Linear(5, 4, activation="gelu_tanh", rng=0, dtype=d),
}
LOSSES = {
    "cross_entropy_sum": (lambda: nn.CrossEntropyLoss(reduction="sum"),
                          lambda rng, n: rng.integers(0, 4, n)),
    "mse": (lambda: nn.MSELoss(), lambda rng, n: rng.standard_normal((n, 4))),
    "bce_with_logits_sum": (lambda: nn.BCEWithLogitsLoss(reduction="sum"),
                            lambda rng, n: rng.random((n, 4))),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("layers", sorted(LAYERS))
def test_every_layer_and_loss_the_plan_runs(layers, loss, dtype):
    make_loss, make_target = LOSSES[loss]
    plain, compiled = LAYERS[layers](dtype), LAYERS[layers](dtype)
    plain_opt = optim.SGD(plain.parameters(), lr=0.1, momentum=0.5)
    step = compiled.compile_step(make_loss(), optim.SGD(compiled.parameters(), lr=0.1, momentum=0.5))
    loss_fn = make_loss()
    rng = np.random.default_rng(1)
    for rows in (2, 11, 67):
        x = rng.standard_normal((rows, 5)).astype(dtype)
        target = make_target(rng, rows)
        target = target if target.dtype.kind in "iu" else target.astype(dtype)
        plain_opt.zero_grad()
        expected = loss_fn(plain(x), target)
        plain.backward(loss_fn.backward())
        plain_opt.step()
        assert step(x, target) == pytest.approx(expected, rel=1e-5 if dtype == np.float32 else 1e-12)
    assert_same_parameters(plain, compiled, dtype)
    predict = compiled.compile_forward()
    for rows in (1, 4, 40):
        x = rng.standard_normal((rows, 5)).astype(dtype)
        np.testing.assert_allclose(predict(x), compiled(x), **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", ["sgd_momentum", "adamw"])
@pytest.mark.parametrize("rows", (2, 20, 80))
def test_accumulation_steps_add_gradients_and_update_only_at_the_last(rule, dtype, rows):
    plain, compiled = mlp(dtype), mlp(dtype)
    plain_opt, compiled_opt = RULES[rule](plain.parameters()), RULES[rule](compiled.parameters())
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    step = compiled.compile_step(nn.CrossEntropyLoss(reduction="sum"), compiled_opt)
    for round_ in range(2):
        micro = [batch(dtype, rows, seed=10 * round_ + i) for i in range(3)]
        plain_opt.zero_grad()
        for x, y in micro:
            loss_fn(plain(x), y)
            plain.backward(loss_fn.backward())
        plain_opt.step()
        before = [p.data.copy() for p in compiled.parameters()]
        for x, y in micro[:-1]:
            step(x, y, update=False)
        for p, old in zip(compiled.parameters(), before):
            np.testing.assert_array_equal(p.data, old)  # accumulation never updates
        step(*micro[-1])
    assert_same_parameters(plain, compiled, dtype)
    assert all(not p.grad.any() for p in compiled.parameters())  # consumed by the update


@pytest.mark.parametrize("rows", (3, 30, 90))
def test_schedules_and_mixing_plain_and_compiled_steps(rows):
    dtype = np.float64
    plain, compiled = mlp(dtype), mlp(dtype)
    plain_opt = optim.SGD(plain.parameters(), lr=0.2, momentum=0.9)
    compiled_opt = optim.SGD(compiled.parameters(), lr=0.2, momentum=0.9)
    plain_schedule = optim.StepLR(plain_opt, step_size=2, gamma=0.5)
    compiled_schedule = optim.StepLR(compiled_opt, step_size=2, gamma=0.5)
    loss_fn = nn.CrossEntropyLoss()
    step = compiled.compile_step(nn.CrossEntropyLoss(), compiled_opt)
    for i in range(6):
        x, y = batch(dtype, rows, seed=i)
        plain_step(plain, loss_fn, plain_opt, x, y)
        if i in (0, 2, 3):  # the optimizer's own step shares the state the plan keeps
            plain_step(compiled, loss_fn, compiled_opt, x, y)
        else:
            step(x, y)
        plain_schedule.step()
        compiled_schedule.step()
    assert_same_parameters(plain, compiled, dtype)
    adam_plain, adam_compiled = optim.Adam(plain.parameters()), optim.Adam(compiled.parameters())
    adam_step = compiled.compile_step(nn.CrossEntropyLoss(), adam_compiled)
    for i in range(3):
        x, y = batch(dtype, rows, seed=i)
        plain_step(plain, loss_fn, adam_plain, x, y)
        adam_step(x, y) if i != 1 else plain_step(compiled, loss_fn, adam_compiled, x, y)
    assert [s["step"] for s in adam_compiled.state.values()] == [3] * 6
    assert_same_parameters(plain, compiled, dtype)


def test_parameters_outside_the_optimizer_get_their_gradients():
    model = mlp(np.float32)
    reference = mlp(np.float32)
    last = list(model.parameters())[-2:]
    opt = optim.SGD(list(model.parameters())[:-2], lr=0.1)
    step = model.compile_step(nn.CrossEntropyLoss(), opt)
    x, y = batch(np.float32, 5)
    step(x, y)
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(reference(x), y)
    reference.backward(loss_fn.backward())
    for p, q in zip(last, list(reference.parameters())[-2:]):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(p.data, q.data)


def test_replaced_parameters_and_growing_batches_rebuild_the_plan():
    plain, compiled = mlp(np.float64), mlp(np.float64)
    plain_opt = optim.SGD(plain.parameters(), lr=0.1)
    compiled_opt = optim.SGD(compiled.parameters(), lr=0.1)
    step = compiled.compile_step(nn.CrossEntropyLoss(), compiled_opt)
    loss_fn = nn.CrossEntropyLoss()
    for rows in (2, 50, 7):
        x, y = batch(np.float64, rows, seed=rows)
        plain_step(plain, loss_fn, plain_opt, x, y)
        step(x, y)
    for p, q in zip(plain.parameters(), compiled.parameters()):
        p.data = p.data.copy()
        q.data = q.data * 1.0  # a new array: the plan must follow it
    x, y = batch(np.float64, 4, seed=99)
    plain_step(plain, loss_fn, plain_opt, x, y)
    step(x, y)
    assert_same_parameters(plain, compiled, np.float64)


def test_fit_epoch_equals_steps_over_the_batches():
    model, reference = mlp(np.float64), mlp(np.float64)
    step = model.compile_step(nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01))
    ref_step = reference.compile_step(nn.CrossEntropyLoss(), optim.Adam(reference.parameters(), lr=0.01))
    x, y = batch(np.float64, 23)
    mean_loss = step.fit_epoch(x, y, batch_size=8, shuffle=False)
    losses = [ref_step(x[i:i + 8], y[i:i + 8]) * len(x[i:i + 8]) for i in range(0, 23, 8)]
    assert mean_loss == pytest.approx(sum(losses) / 23, rel=1e-12)
    assert_same_parameters(reference, model, np.float64)
    a, b = mlp(np.float32), mlp(np.float32)
    sa = a.compile_step(nn.CrossEntropyLoss(), optim.SGD(a.parameters(), lr=0.1))
    sb = b.compile_step(nn.CrossEntropyLoss(), optim.SGD(b.parameters(), lr=0.1))
    x, y = batch(np.float32, 40)
    assert sa.fit_epoch(x, y, 16, rng_seed=5) == sb.fit_epoch(x, y, 16, rng_seed=5)
    assert_same_parameters(a, b, np.float32)
    assert sa.fit_epoch(x, y, 16, rng_seed=6) != sb.fit_epoch(x, y, 16, rng_seed=7)


def test_compiled_forward_matches_and_checks_out():
    model = mlp(np.float32, sizes=(64, 256, 256, 10))
    predict = model.compile_forward()
    for rows in (1, 2, 33):
        x, _ = batch(np.float32, rows, features=64)
        np.testing.assert_allclose(predict(x), model(x), rtol=1e-5, atol=1e-6)
    out = np.empty((2, 10), np.float32)
    x = batch(np.float32, 2, features=64)[0]
    assert predict(x, out=out) is out
    with pytest.raises(ValueError, match="out must be"):
        predict(x, out=np.empty((2, 9), np.float32))
    with pytest.raises(ValueError, match=r"expected x \(N >= 1, 64\)"):
        predict(np.ones((2, 63), np.float32))
    with pytest.raises(ValueError, match="dtype float32"):
        predict(np.ones((2, 64)))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        predict([[0.0] * 64])
    np.testing.assert_allclose(predict(np.asfortranarray(x)), model(x), rtol=1e-5, atol=1e-6)


class Custom(nn.Module):
    def forward(self, x):
        return x

    def backward(self, grad_output, need_input_grad=True):
        return grad_output


def test_what_cannot_be_compiled_says_so_at_compile_time():
    with pytest.raises(TypeError, match="Custom.*declares no C op"):
        nn.Sequential(nn.Linear(2, 3), Custom()).compile_forward()
    with pytest.raises(TypeError, match="Softmax.*declares no C op"):
        nn.Sequential(nn.Linear(2, 3), nn.Softmax()).compile_step(nn.MSELoss())
    with pytest.raises(TypeError, match="no Linear"):
        nn.Sequential(nn.ReLU()).compile_forward()
    model = mlp(np.float32)
    with pytest.raises(TypeError, match="HingeLoss declares no C loss"):
        model.compile_step(nn.HingeLoss(), None)

    class MySGD(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)
    with pytest.raises(TypeError, match="MySGD cannot be fused"):
        model.compile_step(nn.CrossEntropyLoss(), MySGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match="compile_step: optimizer must be a fastnn.optim.Optimizer "
                                        "or None, got str"):
        model.compile_step(nn.CrossEntropyLoss(), "sgd")
    with pytest.raises(TypeError, match="mix dtypes"):
        nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 2, dtype=np.float64)).compile_forward()


def test_step_inputs_are_checked():
    model = mlp(np.float32)
    step = model.compile_step(nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    x, y = batch(np.float32, 4)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"target\[2\] = 3 is not a class index in \[0, 3\)"):
        step(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"\(4,\) integer class"):
        step(x, y[:3])
    with pytest.raises(ValueError, match="N >= 1"):
        step(x[:0], y[:0])
    with pytest.raises(ValueError, match="batch_size"):
        step.fit_epoch(x, y, 0)
    with pytest.raises(ValueError, match=r"y\[1\] = -1"):
        step.fit_epoch(x, np.array([0, -1, 0, 0]), 2)
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, old)  # nothing ran
    mse = model.compile_step(nn.MSELoss())
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        mse(x, np.zeros((4, 2)))


@pytest.mark.parametrize("rule", ["sgd_momentum", "adam"])
def test_flattened_models_share_the_optimizers_flat_state(rule):
    plain, compiled = mlp(np.float32), mlp(np.float32)
    plain.flatten_parameters()
    compiled.flatten_parameters()
    plain_opt, compiled_opt = RULES[rule](plain.parameters()), RULES[rule](compiled.parameters())
    step = compiled.compile_step(nn.CrossEntropyLoss(), compiled_opt)
    loss_fn = nn.CrossEntropyLoss()
    for i in range(4):
        x, y = batch(np.float32, 5, seed=i)
        plain_step(plain, loss_fn, plain_opt, x, y)
        step(x, y) if i != 2 else plain_step(compiled, loss_fn, compiled_opt, x, y)
    assert_same_parameters(plain, compiled, np.float32)


def test_sklearn_adam_eps_is_torch_adam_with_eps_over_sqrt_bias_correction():
    plain, compiled = mlp(np.float64), mlp(np.float64)
    plain_opt = optim.Adam(plain.parameters(), lr=0.01, eps=1e-3)
    step = compiled.compile_step(nn.CrossEntropyLoss(), optim.Adam(compiled.parameters(), lr=0.01, eps=1e-3),
                                 sklearn_adam_eps=True)
    loss_fn = nn.CrossEntropyLoss()
    for t in range(1, 4):
        plain_opt.param_groups[0]["eps"] = 1e-3 / np.sqrt(1 - 0.999 ** t)
        x, y = batch(np.float64, 6, seed=t)
        plain_step(plain, loss_fn, plain_opt, x, y)
        step(x, y)
    assert_same_parameters(plain, compiled, np.float64)


def test_threads_sharing_a_compiled_step_take_turns():
    import threading
    model, reference = mlp(np.float32), mlp(np.float32)
    step = model.compile_step(nn.MSELoss(reduction="sum"), optim.SGD(model.parameters(), lr=0.01))
    ref_step = reference.compile_step(nn.MSELoss(reduction="sum"), optim.SGD(reference.parameters(), lr=0.01))
    x = np.ones((70, 6), np.float32)
    target = np.zeros((70, 3), np.float32)
    threads = [threading.Thread(target=lambda: [step(x, target) for _ in range(10)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(40):  # the same batch every time: the order of the calls does not matter
        ref_step(x, target)
    assert_same_parameters(reference, model, np.float32)


def test_plan_losses_are_the_loss_table_rows_without_probabilities_or_parameters():
    plan = _core.Plan(False, 1)
    for row in _core.LOSS_TABLE:
        if row["kind"] == "prob_rows" or row["params"]:
            with pytest.raises(ValueError, match=row["name"]):
                plan.set_loss(row["name"], False)
        else:
            plan.set_loss(row["name"], False)
    with pytest.raises(KeyError):
        plan.set_loss("no_such_loss", False)
