"""precision="bf16" on the layers: Linear and Module.to_precision, the compiled step and forward
against the eager bf16 layers (every rule, each weight-gradient path, every instruction set),
against float32 within bf16's rounding, saving and loading, and the errors."""
import json
import os
import zipfile

import numpy as np
import pytest

import fastnn
import fastnn.functional as F
from fastnn import _core, nn, optim

from test_plan import plain_step as eager_step  # zero_grad, forward, loss, backward, step

# 1-4 rows: float32's few-row path; 5-64: its row blocks; above: the GEMM's write-back
BATCHES = (1, 3, 9, 70)
RULES = {
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1),
    "sgd_nesterov_decay_l1": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True,
                                                  weight_decay=0.01, l1=0.001),
    "adam_amsgrad": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
}
# the sums' order differs between the paths (one GEMM or another, the row kernels): float32's
# rounding of sums of exact bf16 products, as in tests/test_plan.py
TO_ROUNDING = dict(rtol=2e-5, atol=2e-6)


def mlp(precision="bf16", seed=0, sizes=(6, 9, 7, 3)):
    return nn.Sequential(nn.Linear(sizes[0], sizes[1], rng=seed), nn.ReLU(),
                         nn.Linear(sizes[1], sizes[2], rng=seed + 1), nn.Tanh(),
                         nn.Linear(sizes[2], sizes[3], rng=seed + 2)).to_precision(precision)


def batch(rows, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, features)).astype(np.float32), rng.integers(0, classes, rows)


def assert_same_parameters(a, b, **tolerance):
    for (name, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_allclose(pb.data, pa.data, err_msg=name, **(tolerance or TO_ROUNDING))


# ------------------------------------------------------------ the layer

def test_linear_bf16_is_the_functional_bf16_product():
    layer = nn.Linear(129, 45, activation="gelu", precision="bf16", rng=0)
    x = np.random.default_rng(1).standard_normal((37, 129)).astype(np.float32)
    pre = np.empty((37, 45), np.float32)
    y = layer(x)
    expected = F.linear(x, layer.weight.data, layer.bias.data, "gelu", pre_activation_out=pre,
                        precision="bf16")
    np.testing.assert_array_equal(y, expected)
    g = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(g)
    dx_f, dw_f, db_f = F.linear_backward(g, x, layer.weight.data, activation="gelu",
                                         pre_activation=pre, precision="bf16")
    np.testing.assert_array_equal(dx, dx_f)
    np.testing.assert_array_equal(layer.weight.grad, dw_f)
    np.testing.assert_array_equal(layer.bias.grad, db_f)
    # and not the float32 product: the operands were rounded
    assert np.abs(y - nn.Linear(129, 45, activation="gelu", rng=0)(x)).max() > 1e-4


def test_bf16_forward_is_float32_within_the_operands_rounding():
    """Each operand rounds by at most 2^-9 of itself, a product by at most 2^-8 (plus 2^-18), so
    |y_bf16 - y_fp32| <= (2^-8 + 2^-18) |x|·|W|ᵀ plus float32's own sums' rounding."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((70, 300)).astype(np.float32)
    fp32, bf16 = nn.Linear(300, 50, rng=0), nn.Linear(300, 50, rng=0, precision="bf16")
    bound = (2.0 ** -8 + 2.0 ** -18 + 2 * 300 * 2.0 ** -24) * (np.abs(x) @ np.abs(fp32.weight.data.T))
    difference = np.abs(bf16(x).astype(np.float64) - fp32(x))
    assert (difference <= bound + 1e-6).all()
    assert difference.max() > 1e-3 * bound.max()  # the rounding is there


def test_precision_setting_and_its_errors():
    layer = nn.Linear(3, 2, rng=0)
    assert layer.precision == "fp32" and "precision" not in repr(layer)
    layer.precision = "bf16"
    assert layer.precision == "bf16" and "precision='bf16'" in repr(layer)
    for bad in ("fp8", "bfloat16", None, 16):
        with pytest.raises(ValueError, match="precision must be one of"):
            nn.Linear(3, 2, precision=bad)
        with pytest.raises(ValueError, match="precision must be one of"):
            layer.precision = bad
    assert layer.precision == "bf16"  # a refused value changes nothing
    with pytest.raises(ValueError, match=r"precision='bf16' takes float32.*float64"):
        nn.Linear(3, 2, dtype=np.float64, precision="bf16")
    with pytest.raises(ValueError, match=r"precision='bf16' takes float32"):
        nn.Linear(3, 2, dtype=np.float64).precision = "bf16"


def test_to_precision_sets_every_linear_or_none():
    model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(),
                          nn.Sequential(nn.Linear(8, 8, rng=1), nn.Tanh()), nn.Linear(8, 2, rng=2))
    assert model.to_precision("bf16") is model
    linears = [m for m in (model[0], model[2][0], model[3])]
    assert [m.precision for m in linears] == ["bf16"] * 3
    model.to_precision("fp32")
    assert [m.precision for m in linears] == ["fp32"] * 3
    mixed = nn.Sequential(nn.Linear(4, 8, rng=0), nn.Linear(8, 2, dtype=np.float64, rng=1))
    with pytest.raises(ValueError, match=r"to_precision: Linear\(.*float64"):
        mixed.to_precision("bf16")
    assert mixed[0].precision == "fp32"  # checked before anything changed
    with pytest.raises(ValueError, match="precision must be one of"):
        model.to_precision("fp8")
    with pytest.raises(ValueError, match="no layer with a precision"):
        nn.Sequential(nn.ReLU()).to_precision("bf16")
    assert nn.Sequential(nn.ReLU()).to_precision("fp32") is not None


# ------------------------------------------------------------ the compiled step

@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("rows", BATCHES)
def test_compiled_bf16_step_equals_the_eager_bf16_step(rule, rows):
    eager, compiled = mlp(), mlp()
    eager_opt, compiled_opt = RULES[rule](eager.parameters()), RULES[rule](compiled.parameters())
    loss_fn = nn.CrossEntropyLoss()
    step = compiled.compile_step(nn.CrossEntropyLoss(), compiled_opt)
    for seed in range(3):
        x, y = batch(rows, seed=seed)
        expected = eager_step(eager, loss_fn, eager_opt, x, y)
        assert step(x, y) == pytest.approx(expected, rel=1e-5)
    assert_same_parameters(eager, compiled)


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("rows", BATCHES)
def test_every_instruction_set_gives_the_eager_bf16_result(every_isa, rule, rows):
    """Native bf16 arithmetic or float32 on rounded operands: the same numbers up to the order of
    the sums, the eager layers against the compiled step on each set, and each set against the
    first (the machine does not change the result beyond that order)."""
    results = {}
    for name in (_core.isa_names()[0], every_isa):
        if _core.isa_supported(name) != 1:
            continue
        _core.select_isa(name)
        eager, compiled = mlp(), mlp()
        eager_opt = RULES[rule](eager.parameters())
        step = compiled.compile_step(nn.CrossEntropyLoss(), RULES[rule](compiled.parameters()))
        for seed in range(2):
            x, y = batch(rows, seed=seed)
            eager_step(eager, nn.CrossEntropyLoss(), eager_opt, x, y)
            step(x, y)
        assert_same_parameters(eager, compiled)
        results[name] = compiled
    _core.select_isa(every_isa)
    reference = results.pop(_core.isa_names()[0], None)
    for model in results.values():
        if reference is not None:
            assert_same_parameters(reference, model)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_compiled_bf16_is_float32_within_bf16_tolerance(rule):
    """Ten steps at batch 70: the weights' moves differ by the products' rounding (2^-8 of each
    gradient term), far less than the moves themselves (measured, in norm: 0.03-3.2% of them,
    every rule; the most for the first layer's weights)."""
    fp32, bf16 = mlp("fp32"), mlp("bf16")
    start = [p.data.copy() for p in fp32.parameters()]
    steps = [m.compile_step(nn.CrossEntropyLoss(), RULES[rule](m.parameters())) for m in (fp32, bf16)]
    for seed in range(10):
        x, y = batch(70, seed=seed)
        losses = [step(x, y) for step in steps]
        assert losses[1] == pytest.approx(losses[0], rel=2e-2)
    for p0, a, b in zip(start, fp32.parameters(), bf16.parameters()):
        move, gap = np.linalg.norm(a.data - p0), np.linalg.norm(a.data - b.data)
        assert 0 < gap < 0.1 * move


def test_mixed_precision_layers_and_compiled_forward():
    model = mlp("bf16", sizes=(6, 40, 30, 3))
    model[-1].precision = "fp32"  # a last layer kept in float32, as some recipes do
    x, y = batch(70)
    predict = model.compile_forward()
    np.testing.assert_allclose(predict(x), model(x), **TO_ROUNDING)
    np.testing.assert_allclose(predict(x[:1]), model(x[:1]), **TO_ROUNDING)
    eager, opt = mlp("bf16", sizes=(6, 40, 30, 3)), None
    eager[-1].precision = "fp32"
    opt, eager_opt = (optim.Adam(m.parameters(), lr=0.01) for m in (model, eager))
    step = model.compile_step(nn.CrossEntropyLoss(), opt)
    for rows in (1, 70):
        eager_step(eager, nn.CrossEntropyLoss(), eager_opt, x[:rows], y[:rows])
        step(x[:rows], y[:rows])
    assert_same_parameters(eager, model)


def test_fit_epoch_and_accumulation_in_bf16():
    a, b = mlp(), mlp()
    X, Y = batch(150, seed=4)
    step_a = a.compile_step(nn.CrossEntropyLoss(reduction="sum"), optim.SGD(a.parameters(), lr=0.01))
    step_b = b.compile_step(nn.CrossEntropyLoss(reduction="sum"), optim.SGD(b.parameters(), lr=0.01))
    step_a(X[:70], Y[:70], update=False)
    step_a(X[70:], Y[70:])
    step_b(X, Y)
    assert_same_parameters(a, b, rtol=1e-4, atol=1e-5)
    losses = [step_b.fit_epoch(X, Y, batch_size=32, rng_seed=e) for e in range(5)]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_float64_plans_refuse_bf16_layers():
    plan = _core.Plan(True, 1)
    w = np.zeros((2, 3))
    with pytest.raises(ValueError, match="bf16 products take float32"):
        plan.set_layer(0, "linear", 3, 2, 0, w, None, w, None, np.zeros((1, 2)), None, True)


# ------------------------------------------------------------ files

def test_saved_models_record_precision(tmp_path):
    model = mlp("bf16")
    model[-1].precision = "fp32"
    path = tmp_path / "model.npz"
    fastnn.save(path, model)
    copy = fastnn.load(path)
    assert [m.precision for m in (copy[0], copy[2], copy[4])] == ["bf16", "bf16", "fp32"]
    x, _ = batch(5)
    np.testing.assert_array_equal(copy(x), model(x))


def rewrite_manifest(path, change):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["fastnn.json"])
    change(manifest)
    members["fastnn.json"] = json.dumps(manifest).encode()
    os.unlink(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _linear_args(manifest):
    return [child["args"] for child in manifest["architecture"]["children"] if child["type"] == "Linear"]


def test_files_without_precision_load_as_fp32_and_bad_values_are_refused(tmp_path):
    path = tmp_path / "old.npz"
    fastnn.save(path, mlp("bf16"))
    rewrite_manifest(path, lambda m: [args.pop("precision") for args in _linear_args(m)])
    assert {m.precision for m in fastnn.load(path) if isinstance(m, nn.Linear)} == {"fp32"}
    rewrite_manifest(path, lambda m: _linear_args(m)[0].update(precision="fp8"))
    with pytest.raises(ValueError, match="precision must be one of"):
        fastnn.load(path)

