"""fastnn.functional's activations, softmax and linear against the float64 oracle in reference.py,
finite differences, PyTorch (when installed), and bad input."""
import numpy as np
import pytest

import fastnn.functional as F
import reference as ref

DTYPES = [np.float32, np.float64]
ACTIVATION_NAMES = list(F.ACTIVATIONS)  # every activation of the table


@pytest.fixture
def rng():
    return np.random.default_rng(20240603)


def tolerance(dtype):
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


def random_array(shape, dtype, rng, layout="contiguous", scale=3.0):
    """An array of `shape` laid out as asked: contiguous, transposed (a .T view), or strided
    (every other element of a larger array along the last axis)."""
    if layout == "transposed":
        return (rng.standard_normal(shape[::-1]) * scale).astype(dtype).T
    if layout == "strided":
        wide = (rng.standard_normal(shape[:-1] + (2 * shape[-1],)) * scale).astype(dtype)
        return wide[..., ::2]
    return (rng.standard_normal(shape) * scale).astype(dtype)


def elementwise_function(name):
    if name == "gelu_tanh":
        return lambda x: F.gelu(x, approximate="tanh")
    return getattr(F, name)


# ---------------------------------------------------------------- activations

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATION_NAMES)
@pytest.mark.parametrize("shape,layout", [
    ((0,), "contiguous"), ((1,), "contiguous"), ((13,), "contiguous"), ((7, 11), "transposed"),
    ((3, 5, 17), "strided"), ((), "contiguous"), ((300_007,), "contiguous"),
])
def test_activation_forward_matches_reference(name, dtype, shape, layout, rng):
    x = random_array(shape, dtype, rng, layout)
    expected = ref.FORWARD[name](x)
    for y in (elementwise_function(name)(x), F.activation(x, name)):
        assert y.dtype == dtype and y.shape == x.shape
        np.testing.assert_allclose(y, expected, **tolerance(dtype))


def test_activation_returns_a_new_array(rng):
    x = random_array((4, 4), np.float64, rng)
    before = x.copy()
    for name in ACTIVATION_NAMES:
        y = F.activation(x, name)
        assert not np.shares_memory(x, y)
    np.testing.assert_array_equal(x, before)


def test_activation_none_is_identity(rng):
    x = random_array((3, 2), np.float32, rng)
    np.testing.assert_array_equal(F.activation(x, None), x)


def test_sigmoid_and_tanh_saturate_without_overflow():
    x = np.array([-1e4, -100.0, 100.0, 1e4], dtype=np.float32)
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(F.sigmoid(x), [0, 0, 1, 1])
        np.testing.assert_array_equal(F.tanh(x), [-1, -1, 1, 1])


def test_nan_and_inf_propagate():
    x = np.array([np.nan, np.inf, -np.inf], dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(F.relu(x)), [True, False, False])
    np.testing.assert_array_equal(F.relu(x)[1:], [np.inf, 0])
    assert np.isnan(F.sigmoid(x)[0]) and np.isnan(F.gelu(x)[0])
    assert np.isnan(F.softmax(np.array([1.0, np.nan, 2.0]))).all()


def test_kernels_flush_denormals_and_restore_the_callers_state():
    subnormal = np.full(64, 1e-40, dtype=np.float32)
    # with denormals-are-zero set inside the kernel, 1e-40 > 0 is false there
    np.testing.assert_array_equal(F.relu(subnormal), 0)
    # and the flush ends with the kernel: numpy still produces subnormals afterwards
    assert np.float32(1e-38) * np.float32(1e-2) > 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_backward_matches_reference(name, dtype, rng):
    s = random_array((6, 9), dtype, rng, "transposed")
    g = random_array((6, 9), dtype, rng, "strided")
    y = F.activation(s, name)
    grad = F.activation_backward(name, g, output=y, input=s)
    assert grad.dtype == dtype and grad.shape == s.shape
    tol = {"rtol": 2e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(grad, ref.as64(g) * ref.derivative(name, s), **tol)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_backward_matches_finite_differences(name, rng):
    s = rng.standard_normal((4, 5)) * 2
    s[np.abs(s) < 1e-3] = 0.5  # keep ReLU's kink out of the differences
    g = rng.standard_normal((4, 5))
    numerical = ref.numerical_gradient(lambda z: np.sum(g * F.activation(z, name)), s.copy())
    analytic = F.activation_backward(name, g, output=F.activation(s, name), input=s)
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-8)


def test_activation_backward_large_array_uses_every_element(rng):
    s = rng.standard_normal(300_001)
    g = rng.standard_normal(300_001)
    grad = F.activation_backward("tanh", g, output=F.tanh(s))
    np.testing.assert_allclose(grad, g * ref.derivative("tanh", s), rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- softmax

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((1, 1), -1), ((5, 7), -1), ((5, 7), 0), ((3, 4, 6), 1),
                                       ((0, 3), -1), ((13,), 0), ((1000, 300), -1)])
def test_softmax_and_log_softmax_match_reference(shape, dim, dtype, rng):
    x = random_array(shape, dtype, rng, scale=5.0)
    y = F.softmax(x, dim=dim)
    log_y = F.log_softmax(x, dim=dim)
    assert y.shape == log_y.shape == shape and y.dtype == log_y.dtype == dtype
    np.testing.assert_allclose(y, ref.softmax(x, dim), **tolerance(dtype))
    np.testing.assert_allclose(log_y, ref.log_softmax(x, dim), rtol=tolerance(dtype)["rtol"],
                               atol=1e-5 if dtype == np.float32 else 1e-12)


def test_softmax_of_huge_logits_is_finite():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=np.float32)
    y = F.softmax(x)
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    np.testing.assert_allclose(F.log_softmax(x)[0], [0, -2e4, -1e4], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [-1, 0])
def test_softmax_backward_matches_reference(dim, dtype, rng):
    x = random_array((5, 8), dtype, rng, "transposed")
    g = random_array((5, 8), dtype, rng)
    y, log_y = F.softmax(x, dim), F.log_softmax(x, dim)
    np.testing.assert_allclose(F.softmax_backward(g, y, dim), ref.softmax_backward(g, y, dim),
                               **tolerance(dtype))
    np.testing.assert_allclose(F.log_softmax_backward(g, log_y, dim),
                               ref.log_softmax_backward(g, log_y, dim),
                               rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("take_log", [False, True])
def test_softmax_backward_matches_finite_differences(take_log, rng):
    x = rng.standard_normal((3, 5))
    g = rng.standard_normal((3, 5))
    forward = F.log_softmax if take_log else F.softmax
    backward = F.log_softmax_backward if take_log else F.softmax_backward
    numerical = ref.numerical_gradient(lambda z: np.sum(g * forward(z, dim=0)), x.copy())
    np.testing.assert_allclose(backward(g, forward(x, dim=0), dim=0), numerical, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------- linear

LINEAR_SHAPES = [(0, 3, 4), (1, 1, 1), (1, 5, 3), (7, 13, 11), (37, 19, 300)]


def linear_operands(n, in_features, out_features, dtype, rng, layout="contiguous"):
    x = random_array((n, in_features), dtype, rng, layout, scale=1.0)
    w = random_array((out_features, in_features), dtype, rng, layout, scale=0.5)
    b = random_array((out_features,), dtype, rng, scale=0.5)
    return x, w, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [None] + ACTIVATION_NAMES)
@pytest.mark.parametrize("n,in_features,out_features", LINEAR_SHAPES)
def test_linear_matches_reference(n, in_features, out_features, name, dtype, rng):
    x, w, b = linear_operands(n, in_features, out_features, dtype, rng, "transposed")
    pre = np.empty((n, out_features), dtype=dtype)
    y = F.linear(x, w, b, activation=name, pre_activation_out=pre)
    expected, s = ref.linear(x, w, b, name)
    assert y.shape == (n, out_features) and y.dtype == dtype
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-12}
    np.testing.assert_allclose(y, expected, **tol)
    np.testing.assert_allclose(pre, s, **tol)


def test_linear_without_bias_and_into_out(rng):
    x, w, _ = linear_operands(4, 3, 2, np.float64, rng)
    out = np.full((4, 2), np.nan)
    assert F.linear(x, w, out=out) is out
    np.testing.assert_allclose(out, x @ w.T, rtol=1e-12)


def test_linear_with_no_input_features_is_bias_then_activation():
    y = F.linear(np.empty((2, 0)), np.empty((3, 0)), np.array([-1.0, 0.0, 2.0]), activation="relu")
    np.testing.assert_array_equal(y, [[0, 0, 2], [0, 0, 2]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [None] + ACTIVATION_NAMES)
@pytest.mark.parametrize("n,in_features,out_features", LINEAR_SHAPES)
def test_linear_backward_matches_reference(n, in_features, out_features, name, dtype, rng):
    x, w, b = linear_operands(n, in_features, out_features, dtype, rng, "strided")
    pre = np.empty((n, out_features), dtype=dtype)
    y = F.linear(x, w, b, activation=name, pre_activation_out=pre)
    g = random_array((n, out_features), dtype, rng, "transposed", scale=1.0)
    dx, dw, db = F.linear_backward(g, x, w, activation=name, output=y, pre_activation=pre)
    expected = ref.linear_backward(g, x, w, pre, name)
    tol = {"rtol": 2e-4, "atol": 2e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-11}
    for got, want, shape in zip((dx, dw, db), expected, (x.shape, w.shape, b.shape)):
        assert got.shape == shape and got.dtype == dtype
        np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("name", [None] + ACTIVATION_NAMES)
def test_linear_backward_matches_finite_differences(name, rng):
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((3, 4)) * 0.5
    b = rng.standard_normal(3) * 0.5
    g = rng.standard_normal((5, 3))
    pre = np.empty((5, 3))
    y = F.linear(x, w, b, activation=name, pre_activation_out=pre)
    assert np.abs(pre).min() > 1e-4  # ReLU's kink would spoil the differences

    def loss(x_, w_, b_):
        return np.sum(g * F.linear(x_, w_, b_, activation=name))

    dx, dw, db = F.linear_backward(g, x, w, activation=name, output=y, pre_activation=pre)
    numerical = [ref.numerical_gradient(lambda v: loss(v, w, b), x.copy()),
                 ref.numerical_gradient(lambda v: loss(x, v, b), w.copy()),
                 ref.numerical_gradient(lambda v: loss(x, w, v), b.copy())]
    for analytic, expected in zip((dx, dw, db), numerical):
        np.testing.assert_allclose(analytic, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", [None, "relu", "gelu"])
def test_linear_backward_accumulates_into_given_gradients(name, rng):
    x, w, b = linear_operands(6, 5, 4, np.float64, rng)
    pre = np.empty((6, 4))
    y = F.linear(x, w, b, activation=name, pre_activation_out=pre)
    g = rng.standard_normal((6, 4))
    _, dw, db = F.linear_backward(g, x, w, activation=name, output=y, pre_activation=pre)
    weight_grad, bias_grad = np.ones_like(w), np.full(4, 2.0)
    dx, dw_acc, db_acc = F.linear_backward(g, x, w, activation=name, output=y, pre_activation=pre,
                                           weight_grad=weight_grad, bias_grad=bias_grad)
    assert dw_acc is weight_grad and db_acc is bias_grad
    np.testing.assert_allclose(weight_grad, dw + 1, rtol=1e-12)
    np.testing.assert_allclose(bias_grad, db + 2, rtol=1e-12)
    F.linear_backward(g, x, w, activation=name, output=y, pre_activation=pre,
                      weight_grad=weight_grad, bias_grad=bias_grad)
    np.testing.assert_allclose(weight_grad, 2 * dw + 1, rtol=1e-12)
    np.testing.assert_allclose(bias_grad, 2 * db + 2, rtol=1e-12)


def test_linear_backward_skips_what_is_not_needed(rng):
    x, w, b = linear_operands(3, 4, 2, np.float32, rng)
    g = rng.standard_normal((3, 2)).astype(np.float32)
    dx, dw, db = F.linear_backward(g, x, w, need_input_grad=False, has_bias=False)
    assert dx is None and db is None
    np.testing.assert_allclose(dw, ref.as64(g).T @ x, rtol=1e-5)


def test_linear_backward_of_an_empty_batch_is_zero(rng):
    x, w, _ = linear_operands(0, 4, 3, np.float64, rng)
    dx, dw, db = F.linear_backward(np.empty((0, 3)), x, w, activation="tanh", output=np.empty((0, 3)))
    assert dx.shape == (0, 4)
    np.testing.assert_array_equal(dw, np.zeros((3, 4)))
    np.testing.assert_array_equal(db, np.zeros(3))


@pytest.mark.parametrize("name", [None, "relu"])
def test_linear_backward_of_a_large_layer(name, rng):
    # enough elements for the delta / bias-gradient pass to be split among threads, over several
    # column blocks with a ragged last one
    x, w, b = linear_operands(300, 3, 1001, np.float64, rng)
    y = F.linear(x, w, b, activation=name)
    g = rng.standard_normal((300, 1001))
    dx, dw, db = F.linear_backward(g, x, w, activation=name, output=y)
    ds = g * (y > 0) if name else g
    np.testing.assert_allclose(db, ds.sum(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, ds.T @ x, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(dx, ds @ w, rtol=1e-11, atol=1e-11)


def test_bias_gradient_is_accumulated_accurately():
    # 2**16 rows of 1 + 2**-12 in float32: a float32 running sum would drift by far more than this
    rows = 1 << 16
    g = np.full((rows, 3), 1 + 2.0**-12, dtype=np.float32)
    x = np.zeros((rows, 1), dtype=np.float32)
    _, _, db = F.linear_backward(g, x, np.zeros((3, 1), dtype=np.float32), need_input_grad=False)
    np.testing.assert_allclose(db, rows * (1 + 2.0**-12), rtol=1e-7)


# ---------------------------------------------------------------- PyTorch

@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activations_and_linear_backward_match_torch(name, rng):
    torch = pytest.importorskip("torch")
    modules = {"identity": torch.nn.Identity(), "relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(),
               "sigmoid": torch.nn.Sigmoid(), "gelu": torch.nn.GELU(),
               "gelu_tanh": torch.nn.GELU(approximate="tanh"), "leaky_relu": torch.nn.LeakyReLU(),
               "elu": torch.nn.ELU(), "silu": torch.nn.SiLU(), "softplus": torch.nn.Softplus()}
    x, w, b = linear_operands(9, 7, 5, np.float64, rng)
    g = rng.standard_normal((9, 5))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = modules[name](torch.nn.functional.linear(tx, tw, tb))
    ty.backward(torch.tensor(g))
    pre = np.empty((9, 5))
    y = F.linear(x, w, b, activation=name, pre_activation_out=pre)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-13)
    dx, dw, db = F.linear_backward(g, x, w, activation=name, output=y, pre_activation=pre)
    for got, tensor in ((dx, tx), (dw, tw), (db, tb)):
        np.testing.assert_allclose(got, tensor.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_softmax_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 6, 3)).astype(np.float32) * 10
    for dim in (0, 1, 2):
        expected = torch.softmax(torch.tensor(x), dim).numpy()
        np.testing.assert_allclose(F.softmax(x, dim), expected, rtol=1e-5, atol=1e-7)
        expected = torch.log_softmax(torch.tensor(x), dim).numpy()
        np.testing.assert_allclose(F.log_softmax(x, dim), expected, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- bad input

def test_activations_reject_bad_input():
    with pytest.raises(TypeError, match="relu: x must be float32 or float64, got int64"):
        F.relu(np.arange(3))
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        F.activation(np.zeros(2), "swish")
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(np.zeros(2), approximate="erf")
    with pytest.raises(ValueError, match="needs output="):
        F.activation_backward("relu", np.zeros(2), input=np.zeros(2))
    with pytest.raises(ValueError, match="needs input="):
        F.activation_backward("gelu", np.zeros(2), output=np.zeros(2))
    with pytest.raises(ValueError, match=r"output has shape \(3,\), but grad_output has shape \(2,\)"):
        F.activation_backward("tanh", np.zeros(2), output=np.zeros(3))
    with pytest.raises(TypeError, match="output has dtype float32"):
        F.activation_backward("tanh", np.zeros(2), output=np.zeros(2, dtype=np.float32))


def test_softmax_rejects_bad_input():
    with pytest.raises(ValueError, match=r"dim 2 is out of range for shape \(2, 3\)"):
        F.softmax(np.zeros((2, 3)), dim=2)
    with pytest.raises(ValueError, match="0-D"):
        F.softmax(np.float64(1.0))
    with pytest.raises(TypeError, match="int64"):
        F.log_softmax(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="output has shape"):
        F.softmax_backward(np.zeros((2, 3)), np.zeros((3, 2)))


def test_linear_rejects_bad_input(rng):
    x, w, b = linear_operands(4, 3, 2, np.float32, rng)
    with pytest.raises(ValueError, match=r"linear: x must be 2-D, got 1-D with shape \(3,\)"):
        F.linear(x[0], w)
    with pytest.raises(ValueError, match=r"x is \(4, 3\) = \(N, in\), so weight must be \(out, 3\), got \(3, 2\)"):
        F.linear(x, w.T)
    with pytest.raises(TypeError, match="weight has dtype float64, but x has dtype float32"):
        F.linear(x, w.astype(np.float64))
    with pytest.raises(TypeError, match="x must be float32 or float64, got int32"):
        F.linear(x.astype(np.int32), w)
    with pytest.raises(ValueError, match=r"bias must be \(2,\)"):
        F.linear(x, w, np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="unknown activation"):
        F.linear(x, w, activation="softmax")
    with pytest.raises(ValueError, match="out overlaps x"):
        F.linear(x, np.ones((3, 3), dtype=np.float32), out=x[:, :3])
    with pytest.raises(ValueError, match=r"out has shape \(2, 4\), expected \(4, 2\)"):
        F.linear(x, w, out=np.empty((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="pre_activation_out overlaps out"):
        out = np.empty((4, 2), dtype=np.float32)
        F.linear(x, w, activation="gelu", out=out, pre_activation_out=out)
    with pytest.raises(ValueError, match="out needs contiguous rows"):
        F.linear(x, w, out=np.empty((2, 4), dtype=np.float32).T)


def test_linear_backward_rejects_bad_input(rng):
    x, w, b = linear_operands(4, 3, 2, np.float64, rng)
    g = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"need grad_output \(N, out\) = \(4, 2\), got \(4, 3\)"):
        F.linear_backward(np.zeros((4, 3)), x, w)
    with pytest.raises(ValueError, match=r"weight \(2, 4\) = \(out, in\)"):
        F.linear_backward(g, x, np.zeros((2, 4)))
    with pytest.raises(TypeError, match="must share a dtype"):
        F.linear_backward(g.astype(np.float32), x, w)
    with pytest.raises(ValueError, match="needs output="):
        F.linear_backward(g, x, w, activation="sigmoid", pre_activation=g)
    with pytest.raises(ValueError, match="needs pre_activation="):
        F.linear_backward(g, x, w, activation="gelu_tanh", output=g)
    with pytest.raises(ValueError, match=r"output must be \(4, 2\)"):
        F.linear_backward(g, x, w, activation="relu", output=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="weight_grad overlaps weight"):
        F.linear_backward(g, x, w, weight_grad=w)
    with pytest.raises(ValueError, match=r"bias_grad has shape \(3,\), expected \(2,\)"):
        F.linear_backward(g, x, w, bias_grad=np.zeros(3))
    with pytest.raises(TypeError, match="weight_grad has dtype float32"):
        F.linear_backward(g, x, w, weight_grad=np.zeros((2, 3), dtype=np.float32))


def test_docstring_examples_run():
    import doctest
    assert doctest.testmod(F, raise_on_error=True).attempted > 20


def test_overlap_test_agrees_with_numpy_bounds():
    from fastnn import _core
    a = np.zeros((10, 10))
    pairs = [(a[:5], a[5:]), (a[:5], a[4:]), (a[:, :5], a[:, 5:]), (a.T, a[9:, 9:]),
             (a[::-1], a[0]), (a[::-1][:2], a[0]), (a[:0], a), (a[3], np.zeros(3))]
    for out, x in pairs:
        assert (_core.first_overlap(out, None, x) == 1) == np.may_share_memory(out, x)


def test_misaligned_arrays_are_copied_in_and_refused_out():
    def misaligned(x):
        raw = np.zeros(x.nbytes + 1, dtype=np.uint8)
        out = np.ndarray(x.shape, dtype=x.dtype, buffer=raw, offset=1)
        out[...] = x
        return out

    rng = np.random.default_rng(11)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 5)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    expected = F.linear(x, w, b, activation="tanh")
    np.testing.assert_array_equal(F.linear(misaligned(x), misaligned(w), misaligned(b), activation="tanh"),
                                  expected)
    np.testing.assert_array_equal(F.relu(misaligned(x)), F.relu(x))
    target = np.array([0, 3, 1, 2, 0, 1])
    assert F.cross_entropy(misaligned(expected), misaligned(target)) == F.cross_entropy(expected, target)
    with pytest.raises(ValueError, match="not aligned"):
        F.linear(x, w, b, out=misaligned(np.zeros((6, 4), np.float32)))
