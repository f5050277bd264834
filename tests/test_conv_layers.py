"""The convolution, pooling and normalisation layers: against torch (when installed) with the same
weights, fused and folded steps against the unfused layers, save/load, and bad input."""
import numpy as np
import pytest

import fastnn
from fastnn import nn, optim

import reference_conv as refc


def _torch():
    return pytest.importorskip("torch")


def _copy_into_torch(torch_module, module):
    """torch_module takes module's state (parameters and buffers) as they are: same layout."""
    state = {name: torch_module.state_dict()[name].new_tensor(np.asarray(array))
             for name, array in module.state_dict().items()}
    torch_module.load_state_dict(state)


CONV_LAYERS = [
    dict(cls="Conv2d", args=(3, 5, 3), kwargs=dict(padding=1), shape=(2, 3, 7, 6)),
    dict(cls="Conv2d", args=(4, 6, (3, 2)), kwargs=dict(stride=2, padding=(2, 1), dilation=(1, 2), groups=2),
         shape=(1, 4, 9, 8)),
    dict(cls="Conv2d", args=(6, 6, 3), kwargs=dict(groups=6, padding="same", bias=False), shape=(2, 6, 5, 5)),
    dict(cls="Conv2d", args=(3, 4, 1), kwargs=dict(), shape=(3, 3, 1, 1)),
    dict(cls="Conv1d", args=(3, 4, 5), kwargs=dict(stride=3, padding=2), shape=(2, 3, 17)),
    dict(cls="Conv1d", args=(4, 4, 4), kwargs=dict(padding="same", dilation=2, groups=4), shape=(2, 4, 9)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spec", CONV_LAYERS, ids=lambda s: f"{s['cls']}{s['args']}{s['kwargs']}")
def test_conv_layers_match_torch(spec, dtype):
    torch = _torch()
    layer = getattr(nn, spec["cls"])(*spec["args"], **spec["kwargs"], dtype=dtype, rng=0)
    twin = getattr(torch.nn, spec["cls"])(*spec["args"], **spec["kwargs"]).to(
        torch.float64 if dtype == np.float64 else torch.float32)
    _copy_into_torch(twin, layer)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(spec["shape"]).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ty = twin(tx)
    y = layer(x)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y, ty.detach().numpy(), **tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    ty.backward(torch.tensor(dy))
    layer.zero_grad()
    np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(layer.weight.grad, twin.weight.grad.numpy(), **tol)
    if layer.bias is not None:
        np.testing.assert_allclose(layer.bias.grad, twin.bias.grad.numpy(), **tol)


def test_pool_and_norm_layers_match_torch():
    torch = _torch()
    rng = np.random.default_rng(2)
    cases = [
        ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 9, 8)),
        ("MaxPool2d", (2,), dict(dilation=2), (1, 2, 7, 7)),
        ("MaxPool1d", (3,), dict(stride=1, padding=1), (2, 3, 10)),
        ("AvgPool2d", (3,), dict(stride=2, padding=1, count_include_pad=False), (2, 3, 9, 8)),
        ("AvgPool2d", (2,), dict(ceil_mode=True, divisor_override=3), (1, 2, 5, 5)),
        ("AvgPool1d", (4,), dict(stride=3, padding=2, ceil_mode=True), (2, 3, 10)),
        ("AdaptiveAvgPool2d", ((3, 2),), {}, (2, 3, 7, 5)),
        ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 7, 5)),
        ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
        ("Flatten", (), {}, (2, 3, 4, 5)),
        ("LayerNorm", ((4, 5),), {}, (2, 3, 4, 5)),
    ]
    for name, args, kwargs, shape in cases:
        layer = getattr(nn, name)(*args, **kwargs, **({"dtype": np.float64} if name == "LayerNorm" else {}))
        twin = getattr(torch.nn, name)(*args, **kwargs).double()
        if name == "LayerNorm":
            layer.weight.data[...] = rng.standard_normal((4, 5))
            layer.bias.data[...] = rng.standard_normal((4, 5))
            _copy_into_torch(twin, layer)
        x = rng.standard_normal(shape)
        tx = torch.tensor(x, requires_grad=True)
        ty = twin(tx)
        y = layer(x)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
        dy = rng.standard_normal(y.shape)
        ty.backward(torch.tensor(dy))
        np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)
        if name == "LayerNorm":
            np.testing.assert_allclose(layer.weight.grad, twin.weight.grad.numpy(), rtol=1e-9, atol=1e-11)
            np.testing.assert_allclose(layer.bias.grad, twin.bias.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("cls, shape", [("BatchNorm2d", (4, 3, 5, 6)), ("BatchNorm1d", (5, 3)),
                                        ("BatchNorm1d", (2, 3, 7))])
@pytest.mark.parametrize("momentum, affine", [(0.1, True), (None, True), (0.5, False)])
def test_batch_norm_layers_match_torch_through_training_and_eval(cls, shape, momentum, affine):
    torch = _torch()
    rng = np.random.default_rng(3)
    layer = getattr(nn, cls)(3, momentum=momentum, affine=affine, dtype=np.float64)
    twin = getattr(torch.nn, cls)(3, momentum=momentum, affine=affine).double()
    if affine:
        layer.weight.data[...] = rng.standard_normal(3)
        layer.bias.data[...] = rng.standard_normal(3)
        _copy_into_torch(twin, layer)
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + step
        tx = torch.tensor(x, requires_grad=True)
        ty = twin(tx)
        layer.zero_grad()
        y = layer(x)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-9, atol=1e-10)
        dy = rng.standard_normal(shape)
        ty.backward(torch.tensor(dy))
        np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
        if affine:
            np.testing.assert_allclose(layer.weight.grad, twin.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
            np.testing.assert_allclose(layer.bias.grad, twin.bias.grad.numpy(), rtol=1e-9, atol=1e-10)
            twin.weight.grad = twin.bias.grad = None
    np.testing.assert_allclose(layer.running_mean, twin.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, twin.running_var.numpy(), rtol=1e-12)
    assert float(layer.num_batches_tracked) == float(twin.num_batches_tracked)
    layer.eval(), twin.eval()
    x = rng.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    ty = twin(tx)
    np.testing.assert_allclose(layer(x), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(shape)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(layer.backward(dy), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_torch_state_dict_loads_as_it_is():
    torch = _torch()
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(36, 3))
    twin.train()
    twin(torch.randn(8, 1, 8, 8))  # moves the running statistics
    twin.eval()
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(36, 3))
    model.load_state_dict({k: v.numpy() for k, v in twin.state_dict().items()})
    model.eval()
    x = np.random.default_rng(4).standard_normal((5, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(model(x), twin(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def _pair_of_models(seed=0, dtype=np.float64):
    def build():
        return nn.Sequential(nn.Conv2d(2, 6, 3, padding=1, rng=seed, dtype=dtype), nn.BatchNorm2d(6, dtype=dtype),
                             nn.ReLU(), nn.Conv2d(6, 4, 3, rng=seed + 1, dtype=dtype), nn.Tanh(),
                             nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 3, rng=seed + 2, dtype=dtype))
    return build(), build()


def test_fused_steps_equal_the_layers_run_one_by_one():
    fused, plain = _pair_of_models()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 10, 10))
    y = fused(x)
    assert type(fused._plan[0]).__name__ == "ConvBatchNorm"
    assert type(fused._plan[2]).__name__ == "ConvActivation"
    z = x
    for module in plain:
        z = module(z)
    np.testing.assert_allclose(y, z, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    g = dy
    for module in reversed(list(plain)):
        g = module.backward(g)
    np.testing.assert_allclose(fused.backward(dy), g, atol=1e-11)
    for (name, p), (_, q) in zip(fused.named_parameters(), plain.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad, atol=1e-11, err_msg=name)
    # eval: the BatchNorm folded into the convolution, forward and backward still the layers'
    fused.eval(), plain.eval()
    y = fused(x)
    z = x
    for module in plain:
        z = module(z)
    np.testing.assert_allclose(y, z, atol=1e-12)
    fused.zero_grad(), plain.zero_grad()
    g = dy
    for module in reversed(list(plain)):
        g = module.backward(g)
    np.testing.assert_allclose(fused.backward(dy), g, atol=1e-11)
    for (name, p), (_, q) in zip(fused.named_parameters(), plain.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad, atol=1e-11, err_msg=name)


def test_first_layer_skips_the_input_gradient():
    model, _ = _pair_of_models()
    x = np.random.default_rng(6).standard_normal((2, 2, 10, 10))
    y = model(x)
    assert model.backward(np.ones_like(y), need_input_grad=False) is None
    assert np.abs(model[0].weight.grad).sum() > 0


def test_a_small_cnn_learns():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 1, 6, 6)).astype(np.float32)
    labels = (x[:, 0, :3].sum(axis=(1, 2)) > x[:, 0, 3:].sum(axis=(1, 2))).astype(np.int64)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=0), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.1, rng=0), nn.Linear(36, 2, rng=1))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        losses.append(loss_fn(model(x), labels))
        model.backward(loss_fn.backward(), need_input_grad=False)
        opt.step()
    assert losses[-1] < 0.3 * losses[0]


ALL_LAYERS = [
    nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding="same" if False else (1, 0), dilation=2, groups=1,
              activation="relu", rng=0),
    nn.Conv2d(4, 4, 3, padding="same", groups=4, bias=False, dtype=np.float64, rng=1),
    nn.Conv1d(2, 3, 4, stride=2, rng=2),
    nn.MaxPool2d(3, 2, 1, ceil_mode=True), nn.MaxPool1d(2), nn.AvgPool2d(3, 1, 1, count_include_pad=False),
    nn.AvgPool2d(2, divisor_override=3), nn.AvgPool1d(3, 2, 1, ceil_mode=True),
    nn.AdaptiveAvgPool2d((2, None)), nn.AdaptiveAvgPool1d(1),
    nn.BatchNorm2d(4, momentum=None), nn.BatchNorm1d(3, affine=False, dtype=np.float64),
    nn.BatchNorm1d(3, track_running_stats=False),
    nn.Dropout(0.3), nn.Flatten(2, 3), nn.LayerNorm((2, 3), elementwise_affine=False),
    nn.LayerNorm(5, bias=False, dtype=np.float64),
]


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=repr)
def test_every_new_layer_saves_and_loads(layer, tmp_path):
    rng = np.random.default_rng(8)
    for name, array in layer.state_dict().items():
        layer.load_state_dict({**layer.state_dict(), name: rng.standard_normal(array.shape) + 2}, strict=True) \
            if name != "num_batches_tracked" else None
    path = tmp_path / "layer.npz"
    fastnn.save(path, layer)
    loaded = fastnn.load(path)
    assert type(loaded) is type(layer) and repr(loaded) == repr(layer)
    for (name, a), (_, b) in zip(layer.state_dict().items(), loaded.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert a.dtype == b.dtype


def test_a_file_holding_too_small_a_weight_is_refused(tmp_path):
    path = tmp_path / "conv.npz"
    fastnn.save(path, nn.Conv2d(2, 3, 3))
    with pytest.raises(ValueError, match="weight"):
        fastnn.load(path, into=nn.Conv2d(2, 3, 5))


@pytest.mark.parametrize("layer, x, message", [
    (nn.Conv2d(3, 4, 3), np.zeros((2, 5, 8, 8), np.float32), r"Conv2d\(3, 4.*5 channels.*\(2, 5, 8, 8\)"),
    (nn.Conv2d(3, 4, 3), np.zeros((2, 3, 2, 8), np.float32), r"Conv2d\(3, 4.*smaller than the kernel"),
    (nn.Conv2d(3, 4, 3), np.zeros((3, 8, 8), np.float32), r"Conv2d\(3, 4.*4-D.*\(3, 8, 8\)"),
    (nn.Conv1d(3, 4, 3), np.zeros((2, 3, 8, 8), np.float32), r"Conv1d\(3, 4.*3-D"),
    (nn.Conv2d(3, 4, 3), np.zeros((2, 3, 8, 8)), r"Conv2d\(3, 4.*dtype float32"),
    (nn.BatchNorm2d(4), np.zeros((1, 4, 1, 1), np.float32), r"BatchNorm2d\(4.*more than 1 value.*\(1, 4, 1, 1\)"),
    (nn.BatchNorm2d(4), np.zeros((2, 3, 2, 2), np.float32), r"BatchNorm2d\(4.*\(N, 4, H, W\).*\(2, 3, 2, 2\)"),
    (nn.BatchNorm1d(4), np.zeros((2, 4, 2, 2), np.float32), r"BatchNorm1d\(4.*\(N, 4\) or \(N, 4, L\)"),
    (nn.MaxPool2d(3), np.zeros((1, 1, 2, 2)), r"MaxPool2d.*smaller than the kernel"),
    (nn.MaxPool2d(2), np.zeros((1, 2, 2)), r"MaxPool2d.*4-D"),
    (nn.LayerNorm(4), np.zeros((2, 5), np.float32), r"LayerNorm.*normalized_shape"),
])
def test_bad_input_names_the_layer_and_the_shapes(layer, x, message):
    with pytest.raises(ValueError, match=message):
        layer(x)


def test_eval_batch_norm_before_any_training_batch_is_fine():
    bn = nn.BatchNorm2d(3).eval()
    x = np.random.default_rng(9).standard_normal((1, 3, 1, 1)).astype(np.float32)
    np.testing.assert_allclose(bn(x), x / np.sqrt(1 + 1e-5), rtol=1e-6)


def test_layer_constructor_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="stride 1"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="at most half"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="p must be"):
        nn.Dropout(2)
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm2d(0)


def test_conv_weight_layout_and_initialisation_follow_torch():
    conv = nn.Conv2d(6, 8, (3, 5), groups=2, rng=0)
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    bound = 1 / np.sqrt(3 * 3 * 5)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert nn.Conv2d(6, 8, 3, rng=0).weight.data.tolist() == nn.Conv2d(6, 8, 3, rng=0).weight.data.tolist()


def test_dropout_layer_trains_and_evaluates():
    drop = nn.Dropout(0.5, rng=3)
    x = np.ones((10, 10), np.float32)
    y = drop(x)
    np.testing.assert_array_equal(drop.backward(np.ones_like(y)), y)
    drop.eval()
    assert drop(x) is x
    np.testing.assert_array_equal(drop.backward(x), x)


def test_reference_check_of_a_layer_in_float64():
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, dtype=np.float64, rng=0)
    x = np.random.default_rng(10).standard_normal((2, 2, 7, 7))
    np.testing.assert_allclose(conv(x), refc.conv2d(x, conv.weight.data, conv.bias.data, stride=(2, 2),
                                                    pad=((1, 1), (1, 1))), atol=1e-12)
