"""fastnn.nn: layers, activations, Sequential and losses against numpy references and finite
differences (float64), gradient accumulation, fusion, state dicts, training and bad input."""
import math

import numpy as np
import pytest

from fastnn import nn, optim
import reference as oracle  # tests/reference.py: the float64 numpy oracle

erf = np.vectorize(math.erf)  # the test oracle needs no scipy

ACTIVATIONS = [None, "identity", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh", "leaky_relu", "elu",
               "silu", "softplus"]


# ---------------------------------------------------------------- references

def reference_activation(name, s):
    if name in (None, "identity"):
        return s
    if name == "relu":
        return np.maximum(s, 0)
    if name == "tanh":
        return np.tanh(s)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-s))
    if name == "gelu":
        return 0.5 * s * (1 + erf(s / math.sqrt(2)))
    if name == "gelu_tanh":
        return 0.5 * s * (1 + np.tanh(math.sqrt(2 / math.pi) * (s + 0.044715 * s ** 3)))
    return oracle.FORWARD[name](s)


def log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def numerical_gradient(f, x, eps=1e-6):
    """Central differences of the scalar f() with respect to the array x (perturbed in place)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        up = f()
        x[index] = saved - eps
        down = f()
        x[index] = saved
        grad[index] = (up - down) / (2 * eps)
    return grad


def assert_gradient(analytic, f, x, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(analytic, numerical_gradient(f, x), rtol=rtol, atol=atol)


def random(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- Parameter and Module

def test_parameter():
    p = nn.Parameter(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert p.shape == (2, 3) and p.dtype == np.float32 and p.grad.shape == (2, 3) and not p.grad.any()
    p.grad += 1
    p.zero_grad()
    assert not p.grad.any()
    assert nn.Parameter([1, 2]).dtype == np.float64
    assert nn.Parameter(np.ones((4, 4)).T).data.flags.c_contiguous
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.Parameter(np.array(["a"]))


class TwoLayer(nn.Module):
    def __init__(self):
        self.hidden = nn.Linear(3, 4, activation="tanh", dtype=np.float64, rng=0)
        self.out = nn.Linear(4, 2, dtype=np.float64, rng=1)
        self.scale = nn.Parameter(np.ones(1))

    def forward(self, x):
        self._unscaled = self.out(self.hidden(x))
        return self._unscaled * self.scale.data

    def backward(self, grad_output):
        self.scale.grad += (grad_output * self._unscaled).sum()
        return self.hidden.backward(self.out.backward(grad_output * self.scale.data))


def test_module_registration_zero_grad_train_eval():
    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert len(list(model.parameters())) == 5
    y = model(random((5, 3)))
    model.backward(np.ones_like(y))
    assert model.hidden.weight.grad.any()
    model.zero_grad()
    assert not any(p.grad.any() for p in model.parameters())
    assert model.eval() is model and not model.training and not model.hidden.training
    model.train()
    assert model.out.training


def test_shared_parameters_are_listed_once():
    first = nn.Linear(3, 3, rng=0)
    second = nn.Linear(3, 3, rng=1)
    second.weight = first.weight
    model = nn.Sequential(first, second)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_state_dict_round_trip_and_mismatches():
    model = nn.Sequential(nn.Linear(4, 5, rng=0), nn.ReLU(), nn.Linear(5, 2, rng=1))
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    state["0.weight"][...] = 0  # copies: the model is untouched
    assert model[0].weight.data.any()
    other = nn.Sequential(nn.Linear(4, 5, rng=5), nn.ReLU(), nn.Linear(5, 2, rng=6))
    other.load_state_dict(model.state_dict())
    x = random((3, 4), dtype=np.float32)
    np.testing.assert_array_equal(other(x), model(x))

    wrong = model.state_dict()
    wrong["2.weight"] = np.zeros((3, 5))
    with pytest.raises(ValueError, match=r"2\.weight.*\(3, 5\).*\(2, 5\)"):
        other.load_state_dict(wrong)
    partial = model.state_dict()
    del partial["2.bias"]
    partial["extra"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"missing keys \['2.bias'\], unexpected keys \['extra'\]"):
        other.load_state_dict(partial)
    missing, unexpected = other.load_state_dict(partial, strict=False)
    assert missing == ["2.bias"] and unexpected == ["extra"]


# ---------------------------------------------------------------- Linear

def test_linear_default_init_is_torchs():
    layer = nn.Linear(50, 400, rng=0)
    bound = 1 / math.sqrt(50)
    assert layer.weight.shape == (400, 50) and layer.bias.shape == (400,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    for values in (layer.weight.data, layer.bias.data):
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.01 * bound
    np.testing.assert_array_equal(layer.weight.data, nn.Linear(50, 400, rng=0).weight.data)
    assert nn.Linear(3, 2, bias=False).bias is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("n, fan_in, fan_out", [(1, 1, 1), (7, 13, 5), (33, 17, 29)])
def test_linear_forward_matches_numpy(activation, dtype, n, fan_in, fan_out):
    layer = nn.Linear(fan_in, fan_out, activation=activation, dtype=dtype, rng=0)
    x = random((n, fan_in), seed=1, dtype=dtype)
    s = x.astype(np.float64) @ layer.weight.data.T.astype(np.float64) + layer.bias.data
    y = layer(x)
    assert y.shape == (n, fan_out) and y.dtype == dtype
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y, reference_activation(activation, s), **tol)


def test_linear_takes_non_contiguous_input():
    layer = nn.Linear(5, 3, dtype=np.float64, rng=0)
    x = random((9, 10))[::2, ::2]  # (5, 5), strided both ways
    y = layer(x)
    np.testing.assert_allclose(y, x @ layer.weight.data.T + layer.bias.data, rtol=1e-12)
    dx = layer.backward(np.ones_like(y))
    np.testing.assert_allclose(dx, np.ones_like(y) @ layer.weight.data, rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, np.ones_like(y).T @ x, rtol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_by_finite_differences(activation, bias):
    layer = nn.Linear(6, 4, bias=bias, activation=activation, dtype=np.float64, rng=0)
    x = random((5, 6), seed=1)
    probe = random((5, 4), seed=2)  # L = Σ probe ⊙ y, so dL/dy = probe

    def loss():
        return float((layer(x) * probe).sum())

    loss()
    dx = layer.backward(probe)
    assert_gradient(dx, loss, x)
    assert_gradient(layer.weight.grad, loss, layer.weight.data)
    if bias:
        assert_gradient(layer.bias.grad, loss, layer.bias.data)


def test_second_backward_accumulates_and_skipping_dx_keeps_parameter_grads():
    layer = nn.Linear(4, 3, activation="sigmoid", dtype=np.float64, rng=0)
    y = layer(random((6, 4)))
    grad = random(y.shape, seed=3)
    dx = layer.backward(grad)
    weight_grad, bias_grad = layer.weight.grad.copy(), layer.bias.grad.copy()
    assert layer.backward(grad, need_input_grad=False) is None
    np.testing.assert_allclose(layer.weight.grad, 2 * weight_grad, rtol=1e-14)
    np.testing.assert_allclose(layer.bias.grad, 2 * bias_grad, rtol=1e-14)
    np.testing.assert_allclose(layer.backward(grad), dx, rtol=1e-14)
    np.testing.assert_allclose(layer.weight.grad, 3 * weight_grad, rtol=1e-14)


def test_linear_bad_input():
    layer = nn.Linear(4, 3, rng=0)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((2, 3), np.float32))
    for x, pattern in [(np.ones((2, 5), np.float32), r"\(N >= 1, 4\).*\(2, 5\)"),
                       (np.ones((2, 4)), "float32, got \\(2, 4\\) of dtype float64"),
                       (np.ones((), np.float32), r"got \(\)"),
                       (np.ones((0, 4), np.float32), r"got \(0, 4\)")]:
        with pytest.raises(ValueError, match=r"Linear\(in_features=4, out_features=3.*" + pattern):
            layer(x)
    with pytest.raises(TypeError, match="numpy.ndarray or a list"):
        layer("1 2 3 4")
    with pytest.raises(ValueError, match="not a rectangular array"):
        layer([[1.0, 2.0, 3.0, 4.0], [1.0]])
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"Linear\(.*grad_output must match .*\(2, 3\).*got \(2, 4\)"):
        layer.backward(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="grad_output must match"):
        layer.backward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="activation"):
        nn.Linear(2, 2, activation="swish")
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Linear(0, 2)
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(2, 2, dtype=np.int32)


# ---------------------------------------------------------------- activation modules

ACTIVATION_MODULES = [(nn.ReLU(), "relu"), (nn.Tanh(), "tanh"), (nn.Sigmoid(), "sigmoid"),
                      (nn.GELU(), "gelu"), (nn.GELU(approximate="tanh"), "gelu_tanh"),
                      (nn.Identity(), "identity")]


@pytest.mark.parametrize("module, name", ACTIVATION_MODULES)
def test_activation_modules(module, name):
    x = random((3, 4, 5), seed=4)
    np.testing.assert_allclose(module(x), reference_activation(name, x), rtol=1e-12, atol=1e-15)
    probe = random(x.shape, seed=5)
    module(x)
    grad = module.backward(probe)
    assert_gradient(grad, lambda: float((module(x) * probe).sum()), x)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_module(dim):
    module = nn.Softmax(dim=dim)
    x = random((4, 6), seed=6) * 3
    y = module(x)
    expected = np.exp(x - x.max(axis=dim, keepdims=True))
    np.testing.assert_allclose(y, expected / expected.sum(axis=dim, keepdims=True), rtol=1e-12)
    probe = random(x.shape, seed=7)
    grad = module.backward(probe)
    assert_gradient(grad, lambda: float((module(x) * probe).sum()), x)


def test_activation_bad_input():
    for module in (nn.ReLU(), nn.GELU(), nn.Softmax()):
        with pytest.raises(RuntimeError, match="backward called before forward"):
            module.backward(np.ones(3))
        module(np.ones((2, 3)))
        with pytest.raises(ValueError, match=r"grad_output must match.*\(2, 3\).*got \(3, 2\)"):
            module.backward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU(approximate="fast")


# ---------------------------------------------------------------- Sequential

def mlp(activations, sizes=(5, 7, 6, 3), dtype=np.float64, seed=0):
    modules = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        modules.append(nn.Linear(fan_in, fan_out, dtype=dtype, rng=seed + i))
        if i < len(activations):
            modules.append(activations[i])
    return nn.Sequential(*modules)


@pytest.mark.parametrize("activations", [
    [nn.ReLU(), nn.Tanh()],
    [nn.GELU(), nn.Sigmoid()],
    [nn.GELU(approximate="tanh"), nn.Identity()],
])
def test_sequential_fuses_pairs_and_matches_the_unfused_chain(activations):
    model = mlp(activations)
    x = random((8, 5), seed=1)
    y = model(x)
    assert [type(step).__name__ for step in model._plan] == ["LinearActivation"] * 2 + ["Linear"]
    # the same modules run one by one, unfused
    h = x
    for module in model:
        h = module(h)
    np.testing.assert_allclose(y, h, rtol=1e-13, atol=1e-15)
    probe = random(y.shape, seed=2)
    dx = model.backward(probe)
    fused_grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    g = probe
    for module in reversed(list(model)):
        g = module.backward(g)
    np.testing.assert_allclose(dx, g, rtol=1e-12, atol=1e-15)
    for fused, unfused in zip(fused_grads, (p.grad for p in model.parameters())):
        np.testing.assert_allclose(fused, unfused, rtol=1e-12, atol=1e-15)


def test_sequential_gradients_by_finite_differences():
    model = mlp([nn.GELU(), nn.Tanh()], sizes=(4, 6, 5, 3))
    loss_fn = nn.CrossEntropyLoss()
    x = random((7, 4), seed=3)
    target = np.array([0, 1, 2, 2, 1, 0, 1])

    def loss():
        return loss_fn(model(x), target)

    loss()
    dx = model.backward(loss_fn.backward())
    assert_gradient(dx, loss, x)
    for p in model.parameters():
        assert_gradient(p.grad, loss, p.data)


def test_sequential_with_softmax_and_a_user_module_between():
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64, rng=0), TwoLayerAdapter(), nn.Softmax(dim=1))
    x = random((5, 3), seed=8)
    probe = random((5, 2), seed=9)

    def loss():
        return float((model(x) * probe).sum())

    loss()
    dx = model.backward(probe)
    assert_gradient(dx, loss, x)
    for p in model.parameters():
        assert_gradient(p.grad, loss, p.data)


class TwoLayerAdapter(TwoLayer):
    """TwoLayer takes 3 features; adapt it to 4 with a Linear of its own."""

    def __init__(self):
        super().__init__()
        self.adapter = nn.Linear(4, 3, dtype=np.float64, rng=2)

    def forward(self, x):
        return super().forward(self.adapter(x))

    def backward(self, grad_output):
        return self.adapter.backward(super().backward(grad_output))


def test_sequential_need_input_grad_false_skips_only_the_input_gradient():
    for model in (mlp([nn.ReLU(), nn.Tanh()]),
                  nn.Sequential(nn.Tanh(), mlp([nn.Sigmoid()], sizes=(5, 4, 2)))):
        x = random((6, 5), seed=4)
        y = model(x)
        probe = random(y.shape, seed=5)
        assert model.backward(probe).shape == x.shape
        reference = [p.grad.copy() for p in model.parameters()]
        model.zero_grad()
        assert model.backward(probe, need_input_grad=False) is None
        for p, expected in zip(model.parameters(), reference):
            np.testing.assert_allclose(p.grad, expected, rtol=1e-13)


def test_sequential_containers_and_errors():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU())
    assert len(model) == 2 and isinstance(model[1], nn.ReLU) and len(model[:1]) == 1
    model.append(nn.Linear(3, 1, rng=1))
    assert model(np.ones((4, 2), np.float32)).shape == (4, 1)
    assert "(2): Linear(in_features=3, out_features=1, bias=True)" in repr(model)
    named = nn.Sequential({"encoder": nn.Linear(2, 2, rng=0), "act": nn.Tanh()})
    assert [n for n, _ in named.named_parameters()] == ["encoder.weight", "encoder.bias"]
    with pytest.raises(RuntimeError, match="backward called before forward"):
        named.backward(np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match=r"Linear\(in_features=2, out_features=3.*\(3, 5\)"):
        model(np.ones((3, 5), np.float32))
    model(np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"Sequential.*grad_output must match.*\(4, 1\).*got \(4, 2\)"):
        model.backward(np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)
    identity = nn.Sequential()
    x = np.ones(3)
    assert identity(x) is x and identity.backward(x) is x


def test_a_linear_with_its_own_activation_is_not_fused_again():
    model = nn.Sequential(nn.Linear(3, 4, activation="tanh", dtype=np.float64, rng=0), nn.ReLU())
    x = random((2, 3))
    y = model(x)
    first = model[0]
    np.testing.assert_allclose(y, np.maximum(np.tanh(x @ first.weight.data.T + first.bias.data), 0), rtol=1e-13)
    assert [type(step).__name__ for step in model._plan] == ["Linear", "ReLU"]


# ---------------------------------------------------------------- losses

def reference_loss(name, prediction, target, reduction, margin=1.0):
    n = prediction.shape[0]
    if name == "mse":
        per = (prediction - target) ** 2
    elif name == "ce_index":
        per = -log_softmax(prediction)[np.arange(n), target]
    elif name == "ce_probs":
        per = -(target * log_softmax(prediction)).sum(axis=1)
    elif name == "bce":
        x = prediction
        per = np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x)))
    elif name == "hinge_binary":
        per = np.maximum(0, margin - target * prediction)
    elif name == "hinge_multi":
        correct = prediction[np.arange(n), target][:, None]
        margins = np.maximum(0, margin - correct + prediction)
        margins[np.arange(n), target] = 0
        per = margins.sum(axis=1) / prediction.shape[1]
    else:
        raise AssertionError(name)
    return per.mean() if reduction == "mean" else per.sum()


def loss_case(name, seed=0):
    rng = np.random.default_rng(seed)
    prediction = rng.standard_normal((6, 4)) * 2
    if name == "mse":
        return nn.MSELoss, {}, prediction, rng.standard_normal((6, 4))
    if name == "ce_index":
        return nn.CrossEntropyLoss, {}, prediction, rng.integers(0, 4, 6)
    if name == "ce_probs":
        return nn.CrossEntropyLoss, {}, prediction, rng.dirichlet(np.ones(4), 6)
    if name == "bce":
        return nn.BCEWithLogitsLoss, {}, prediction, rng.uniform(0, 1, (6, 4))
    if name == "hinge_binary":
        return nn.HingeLoss, {"margin": 1.5}, prediction[:, 0], rng.choice([-1.0, 1.0], 6)
    if name == "hinge_multi":
        return nn.HingeLoss, {"margin": 0.7}, prediction, rng.integers(0, 4, 6)
    raise AssertionError(name)


LOSSES = ["mse", "ce_index", "ce_probs", "bce", "hinge_binary", "hinge_multi"]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", LOSSES)
def test_losses_match_reference_and_finite_differences(name, reduction):
    cls, kwargs, prediction, target = loss_case(name)
    loss_fn = cls(**kwargs, reduction=reduction)
    value = loss_fn(prediction, target)
    assert isinstance(value, float)
    np.testing.assert_allclose(value, reference_loss(name, prediction, target, reduction, **kwargs),
                               rtol=1e-12)
    grad = loss_fn.backward()
    assert grad.shape == prediction.shape and grad.dtype == prediction.dtype
    assert_gradient(grad, lambda: loss_fn(prediction, target), prediction)


@pytest.mark.parametrize("name", LOSSES)
def test_losses_in_float32(name):
    cls, kwargs, prediction, target = loss_case(name, seed=1)
    loss_fn = cls(**kwargs)
    value = loss_fn(prediction.astype(np.float32), target)
    np.testing.assert_allclose(value, reference_loss(name, prediction, target, "mean", **kwargs), rtol=1e-5)
    assert loss_fn.backward().dtype == np.float32


def test_cross_entropy_never_overflows():
    loss_fn = nn.CrossEntropyLoss()
    value = loss_fn(np.array([[1e30, 0.0, -1e30]], np.float32), np.array([1]))
    assert value == pytest.approx(1e30)
    assert np.isfinite(loss_fn.backward()).all()


def test_loss_bad_input():
    loss_fn = nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        loss_fn.backward()
    with pytest.raises(ValueError):
        loss_fn(np.zeros((2, 3)), np.array([0, 3]))  # class 3 of 3
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="none")
    with pytest.raises(ValueError):
        nn.HingeLoss()(np.zeros(3), np.array([1.0, 0.0, -1.0]))  # 0 is not a ±1 label
    with pytest.raises(ValueError):
        nn.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))


# ---------------------------------------------------------------- training

def test_tiny_mlp_learns_a_nonlinear_problem():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (256, 2)).astype(np.float32)
    y = ((x[:, 0] * x[:, 1]) > 0).astype(np.int64)  # XOR of the signs: no linear model fits it
    model = nn.Sequential(nn.Linear(2, 32, rng=1), nn.ReLU(), nn.Linear(32, 32, rng=2), nn.Tanh(),
                          nn.Linear(32, 2, rng=3))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = optim.StepLR(opt, step_size=150, gamma=0.5)
    losses = []
    for _ in range(300):
        opt.zero_grad()
        losses.append(loss_fn(model(x), y))
        model.backward(loss_fn.backward(), need_input_grad=False)
        opt.step()
        schedule.step()
    assert losses[-1] < 0.25 * losses[0]
    accuracy = (model(x).argmax(axis=1) == y).mean()
    assert accuracy > 0.95


# ---------------------------------------------------------------- against torch

def to_torch_linear(torch, layer):
    linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(layer.weight.data))
        linear.bias.copy_(torch.tensor(layer.bias.data))
    return linear


def test_mlp_step_matches_torch():
    torch = pytest.importorskip("torch")
    model = mlp([nn.GELU(approximate="tanh"), nn.Sigmoid()], sizes=(5, 8, 6, 4))
    layers = [m for m in model if isinstance(m, nn.Linear)]
    reference = torch.nn.Sequential(to_torch_linear(torch, layers[0]), torch.nn.GELU(approximate="tanh"),
                                    to_torch_linear(torch, layers[1]), torch.nn.Sigmoid(),
                                    to_torch_linear(torch, layers[2]))
    x = random((9, 5), seed=3)
    target = np.random.default_rng(4).integers(0, 4, 9)
    ours_opt = optim.AdamW(model.parameters(), lr=0.01)
    torch_opt = torch.optim.AdamW(reference.parameters(), lr=0.01)
    for _ in range(3):
        ours_opt.zero_grad()
        loss_fn = nn.CrossEntropyLoss()
        loss = loss_fn(model(x), target)
        model.backward(loss_fn.backward(), need_input_grad=False)
        ours_opt.step()
        torch_opt.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(target))
        torch_loss.backward()
        torch_opt.step()
        assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    for ours, theirs in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_losses_match_torch(name):
    torch = pytest.importorskip("torch")
    cls, kwargs, prediction, target = loss_case(name, seed=2)
    loss_fn = cls(**kwargs)
    value = loss_fn(prediction, target)
    p = torch.tensor(prediction, requires_grad=True)
    t = torch.tensor(target)
    F = torch.nn.functional
    if name == "mse":
        expected = F.mse_loss(p, t)
    elif name.startswith("ce"):
        expected = F.cross_entropy(p, t)
    elif name == "bce":
        expected = F.binary_cross_entropy_with_logits(p, t)
    elif name == "hinge_binary":
        expected = torch.clamp(kwargs["margin"] - t * p, min=0).mean()
    else:
        expected = F.multi_margin_loss(p, t, margin=kwargs["margin"])
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(loss_fn.backward(), p.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_zero_grad_is_lazy_but_reads_as_zeros_and_the_next_backward_overwrites():
    rng = np.random.default_rng(7)
    layer = nn.Linear(5, 3, activation="tanh", dtype=np.float64, rng=0)
    x = rng.standard_normal((4, 5))
    g = rng.standard_normal((4, 3))
    layer(x)
    layer.backward(g)
    fresh_w, fresh_b = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * fresh_w)   # accumulates
    layer.zero_grad()
    layer(x)
    layer.backward(g)                                             # overwrites the stale values
    np.testing.assert_array_equal(layer.weight.grad, fresh_w)
    np.testing.assert_array_equal(layer.bias.grad, fresh_b)
    layer.zero_grad()
    assert not layer.weight.grad.any() and not layer.bias.grad.any()  # a read sees zeros
    layer.bias.zero_grad()                                        # only one of the pair zeroed
    layer.weight.grad[...] = 1.0
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 1.0 + fresh_w)
    np.testing.assert_allclose(layer.bias.grad, fresh_b)


def test_optimizer_zero_grad_then_step_sees_zero_gradients():
    p = nn.Parameter(np.ones(3))
    p.grad[...] = 5.0
    opt = optim.SGD([p], lr=0.5)
    opt.zero_grad()
    opt.step()
    np.testing.assert_array_equal(p.data, np.ones(3))


@pytest.mark.parametrize("name", ["parameter", "module", "linear", "activation", "container", "loss"])
def test_nn_docstring_examples_run(name):
    import doctest
    import importlib
    module = importlib.import_module(f"fastnn.nn.{name}")
    result = doctest.testmod(module, raise_on_error=True)
    assert result.attempted > 0


def test_a_layer_declares_what_it_fuses_and_a_subclass_that_changes_forward_is_not_fused():
    class Shifted(nn.ReLU):
        def forward(self, x):
            return super().forward(x) + 1

    assert nn.ReLU().epilogue_activation == "relu"
    assert nn.GELU(approximate="tanh").epilogue_activation == "gelu_tanh"
    assert Shifted().epilogue_activation is None
    model = nn.Sequential(nn.Linear(3, 4, rng=0), Shifted(), nn.Linear(4, 2, rng=1))
    x = np.ones((2, 3), np.float32)
    y = model(x)
    assert [type(step).__name__ for step in model._plan] == ["Linear", "Shifted", "Linear"]
    expected = model[2](np.maximum(model[0](x), 0) + 1)
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_a_custom_module_without_need_input_grad_still_works_first_in_a_sequential():
    class Scale(nn.Module):
        def forward(self, x):
            return 2 * x

        def backward(self, grad_output):  # the old one-argument signature
            return 2 * grad_output

    model = nn.Sequential(Scale(), nn.Linear(3, 2, rng=0))
    y = model(np.ones((2, 3), np.float32))
    assert model.backward(np.ones_like(y), need_input_grad=False) is None
    assert model[1].weight.grad.any()
