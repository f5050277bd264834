"""The names a PyTorch user types: init.*_, ModuleList, clip_grad_norm_ / clip_grad_value_,
summary, Linear on (*, in) inputs and lists, parametrised activations fused after a Linear, and
Parameter.data checked when assigned."""
import numpy as np
import pytest

import fastnn.functional as F
from fastnn import init, nn


def test_init_in_place_names_are_torch_s_and_the_old_ones_stay():
    for old in ("uniform", "normal", "constant", "zeros", "ones", "xavier_uniform", "xavier_normal",
                "kaiming_uniform", "kaiming_normal"):
        assert getattr(init, old + "_") is getattr(init, old)
    layer = nn.Linear(30, 20, rng=0)
    assert init.xavier_uniform_(layer.weight, rng=1) is layer.weight
    bound = np.sqrt(6 / 50)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > bound / 2
    init.zeros_(layer.bias)
    assert not layer.bias.data.any()
    init.ones_(layer.bias)
    assert (layer.bias.data == 1).all()


def test_linear_on_any_leading_dimensions_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    layer = nn.Linear(5, 3, activation="tanh", dtype=np.float64, rng=1)
    tlayer = torch.nn.Linear(5, 3, dtype=torch.float64)
    tlayer.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    for shape in [(5,), (2, 5), (2, 3, 5), (4, 1, 2, 5)]:
        x = rng.standard_normal(shape)
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.tanh(tlayer(tx))
        y = layer(x)
        assert y.shape == tuple(ty.shape)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = rng.standard_normal(y.shape)
        ty.backward(torch.tensor(g))
        layer.zero_grad()
        tlayer.zero_grad()
        tx.grad = None
        ty = torch.tanh(tlayer(tx))
        ty.backward(torch.tensor(g))
        dx = layer.backward(g)
        assert dx.shape == x.shape
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.weight.grad, tlayer.weight.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_linear_reshapes_without_copying_a_contiguous_input():
    layer = nn.Linear(4, 2, rng=0)
    x = np.ones((3, 5, 4), np.float32)
    layer(x)
    assert np.shares_memory(layer._cache[0], x)  # the (15, 4) rows the GEMM read are x itself
    with pytest.raises(ValueError, match=r"grad_output must match the forward output, shape \(3, 5, 2\)"):
        layer.backward(np.ones((15, 2), np.float32))


def test_lists_are_taken_wherever_arrays_are():
    layer = nn.Linear(2, 1, rng=0)
    y = layer([[1.0, 2.0], [3.0, 4.0]])
    assert y.dtype == np.float32 and y.shape == (2, 1)
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 2, rng=1))
    np.testing.assert_array_equal(model([[1.0, 2.0]]), model(np.array([[1.0, 2.0]], np.float32)))
    assert nn.MSELoss()([1.0, 2.0], [1.0, 0.0]) == 2.0
    assert F.relu([-1.0, 2.0]).tolist() == [0.0, 2.0]
    import fastnn
    assert fastnn.matmul([[1.0, 2.0]], [[3.0], [4.0]]).tolist() == [[11.0]]


@pytest.mark.parametrize("module,torch_name,kwargs", [
    (nn.LeakyReLU(0.2), "LeakyReLU", {"negative_slope": 0.2}), (nn.ELU(alpha=0.7), "ELU", {"alpha": 0.7}),
    (nn.SiLU(), "SiLU", {}), (nn.Softplus(beta=2.0, threshold=3.0), "Softplus", {"beta": 2.0, "threshold": 3.0})])
def test_parametrised_activations_fuse_after_a_linear_and_match_torch(module, torch_name, kwargs):
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(6, 4, dtype=np.float64, rng=0), module, nn.Linear(4, 2, dtype=np.float64, rng=1))
    model(np.zeros((1, 6)))
    assert len(model._plan) == 2  # the activation ran inside the first Linear's write-back
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 4), getattr(torch.nn, torch_name)(**kwargs),
                                 torch.nn.Linear(4, 2)).double()
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((7, 6))
    tx = torch.tensor(x, requires_grad=True)
    ty = tmodel(tx)
    y = model(x)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    ty.sum().backward()
    model.zero_grad()
    dx = model.backward(np.ones_like(y))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(model[0].weight.grad, tmodel[0].weight.grad.numpy(), rtol=1e-11, atol=1e-12)
    # as a module on its own, too
    np.testing.assert_allclose(module(x), getattr(torch.nn, torch_name)(**kwargs)(torch.tensor(x)).numpy(),
                               rtol=1e-12, atol=1e-300)


def test_activation_parameters_are_checked():
    with pytest.raises(ValueError, match=r"negative_slope must be >= 0 \(leaky_relu's derivative is taken from its output\)"):
        nn.LeakyReLU(-0.1)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        nn.ELU(alpha=-1.0)
    with pytest.raises(TypeError, match="'elu' takes no parameter 'beta'"):
        F.activation(np.zeros(2), "elu", beta=2.0)
    with pytest.raises(ValueError, match="must be finite"):
        nn.Softplus(beta=float("nan"))
    assert repr(nn.Sequential(nn.Linear(2, 2, rng=0), nn.LeakyReLU(0.3))) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n"
        "  (1): LeakyReLU(negative_slope=0.3)\n)")


def test_module_list_registers_its_modules():
    class Net(nn.Module):
        def __init__(self):
            self.layers = nn.ModuleList([nn.Linear(3, 3, rng=i) for i in range(2)])
            self.layers.append(nn.Linear(3, 1, rng=5))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        f"layers.{i}.{k}" for i in range(3) for k in ("weight", "bias")]
    assert len(net.layers) == 3 and isinstance(net.layers[1:], nn.ModuleList)
    assert net(np.ones((2, 3), np.float32)).shape == (2, 1)
    with pytest.raises(TypeError, match="expected a Module, got int"):
        net.layers.append(3)
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        net.layers(np.ones(3))


def test_clip_grad_norm_and_value_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    for norm_type in (2.0, 1.0, 3.5, float("inf")):
        for max_norm in (0.5, 100.0):
            ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
            theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
            for p, t, g in zip(ours, theirs, grads):
                p.grad[...] = g
                t.grad = torch.tensor(g)
            total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
            expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
            assert total == pytest.approx(float(expected), rel=1e-12)
            for p, t in zip(ours, theirs):
                np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    p = nn.Parameter(np.zeros(3))
    p.grad[:] = [np.inf, 0, 1]
    with pytest.raises(RuntimeError, match="total norm .* is inf"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    p.grad[:] = [-3.0, 0.2, 3.0]
    nn.utils.clip_grad_value_([p], 0.5)
    np.testing.assert_array_equal(p.grad, [-0.5, 0.2, 0.5])


def test_summary_lists_layers_shapes_and_parameter_counts():
    model = nn.Sequential(nn.Linear(784, 128, rng=0), nn.SiLU(), nn.Linear(128, 10, rng=1))
    text = model.summary((32, 784))
    assert text == nn.summary(model, (32, 784))
    lines = text.splitlines()
    assert lines[2].split() == ["Sequential", "(32,", "10)", str(784 * 128 + 128 + 1290)]
    assert lines[3].split() == ["0:", "Linear", "(32,", "128)", str(784 * 128 + 128)]
    assert lines[4].split() == ["1:", "SiLU", "(32,", "128)", "0"]
    assert lines[-1] == f"Total parameters: {784 * 128 + 128 + 1290}"
    assert model(np.ones((2, 784), np.float32)).shape == (2, 10)  # the fused plan still runs after
    with pytest.raises(ValueError, match=r"expected input \(\*, 784\)"):
        model.summary((32, 100))


def test_parameter_data_assignment_is_checked_and_names_the_parameter():
    layer = nn.Linear(4, 3, rng=0)
    with pytest.raises(ValueError, match=r"Linear.weight .*data must have shape \(3, 4\), got \(4, 3\)"):
        layer.weight.data = layer.weight.data.T
    with pytest.raises(TypeError, match=r"Linear.bias .*data must be float32, got complex128"):
        layer.bias.data = np.zeros(3, complex)
    w = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    layer.weight.data = w
    assert layer.weight.data.flags.c_contiguous
    np.testing.assert_array_equal(layer.weight.data, w)


def test_parameters_are_labelled_without_an_attribute_hook():
    """Labels are given when a constructor returns (or when a later parameter is first found),
    not by a __setattr__ hook that every forward's cache store would pay for."""
    assert all("__setattr__" not in vars(cls) for cls in type(nn.Linear(2, 2)).__mro__[:-1])

    class Transposed(nn.Module):
        def __init__(self):
            self.encoder = nn.Linear(4, 3, rng=0)
            self.decoder = nn.Linear(3, 4, rng=1)
            self.decoder.weight = nn.Parameter(self.encoder.weight.data.T.copy())

    model = Transposed()
    with pytest.raises(ValueError, match=r"^Linear.weight \(4, 3\) float32: data must have shape"):
        model.decoder.weight.data = np.zeros((3, 4), np.float32)
    model.encoder.bias = nn.Parameter(np.zeros(3, np.float32))  # after the constructor
    assert len(list(model.parameters())) == 4
    with pytest.raises(ValueError, match=r"^Linear.bias \(3,\) float32"):
        model.encoder.bias.data = np.zeros(4, np.float32)


@pytest.mark.parametrize("name", ["fastnn.nn.module_list", "fastnn.nn.utils", "fastnn.nn.model_summary",
                                  "fastnn.init", "fastnn._optim_adaptive", "fastnn._lr_schedulers"])
def test_docstring_examples_run(name):
    import doctest
    import importlib
    assert doctest.testmod(importlib.import_module(name), raise_on_error=True).attempted > 0


def test_the_new_layers_and_losses_save_and_load(tmp_path):
    import fastnn
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.LeakyReLU(0.2),
                          nn.Linear(4, 4, rng=1, activation=F.activation_spec("elu", alpha=0.3)),
                          nn.Softplus(beta=2.0, threshold=5.0), nn.SiLU(), nn.ELU(0.5))
    fastnn.save(tmp_path / "model.npz", model)
    loaded = fastnn.load(tmp_path / "model.npz")
    x = np.linspace(-4, 4, 12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(loaded(x), model(x))
    assert repr(loaded) == repr(model)
    for loss in (nn.L1Loss(), nn.HuberLoss(delta=0.5), nn.NLLLoss(reduction="sum"), nn.BCELoss()):
        fastnn.save(tmp_path / "loss.npz", loss)
        assert repr(fastnn.load(tmp_path / "loss.npz")) == repr(loss)


def test_log_softmax_and_nll_loss_train_as_torch_s():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(5, 4, dtype=np.float64, rng=0), nn.LogSoftmax(dim=1))
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.LogSoftmax(dim=1)).double()
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 5))
    y = np.array([0, 3, 1, 2, 2, 0])
    loss_fn = nn.NLLLoss()
    loss = loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    tloss = torch.nn.NLLLoss()(tmodel(torch.tensor(x)), torch.tensor(y))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(model[0].weight.grad, tmodel[0].weight.grad.numpy(), rtol=1e-11, atol=1e-14)
