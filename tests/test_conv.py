"""fastnn.functional's convolution, pooling and normalisation against the float64 numpy reference
(tests/reference_conv.py) and finite differences, over awkward shapes."""
import numpy as np
import pytest

from fastnn import functional as F

import reference as ref
import reference_conv as refc

# (N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups)
CONV_CASES = [
    (2, 3, 7, 6, 4, (3, 3), 1, 1, 1, 1),            # odd sizes, "same"-like padding
    (1, 3, 9, 8, 5, (3, 2), 1, 2, 2, 1),            # padding >= kernel / 2, dilation, batch 1
    (2, 2, 9, 9, 3, (2, 2), 3, 0, 1, 1),            # stride > kernel
    (2, 4, 5, 5, 6, (3, 3), 3, 1, 1, 2),            # groups 2
    (3, 6, 11, 13, 6, (3, 3), 1, 1, 1, 6),          # depthwise
    (2, 4, 7, 7, 8, (3, 3), 2, 1, 1, 4),            # depthwise with 2 outputs per channel
    (2, 8, 5, 7, 17, (1, 1), 1, 0, 1, 1),           # 1x1
    (2, 5, 4, 4, 9, (1, 1), 2, 0, 1, 1),            # 1x1 strided
    (2, 3, 1, 1, 4, (1, 1), 1, 0, 1, 1),            # a single pixel
    (2, 3, 1, 1, 4, (3, 3), 1, 1, 1, 1),            # a single pixel, padded
    (1, 16, 33, 35, 19, (5, 5), 2, 2, 1, 1),        # several column blocks, edge tiles
    (2, 40, 30, 30, 20, (3, 3), 1, 1, 1, 1),        # several k blocks
    (1, 128, 61, 61, 4, (3, 3), 2, 1, 1, 1),        # the weight gradient's windows in chunks
    (2, 3, 10, 12, 5, (3, 4), (1, 2), (2, 0), (1, 3), 1),  # per-axis arguments
    (2, 3, 6, 7, 4, (4, 2), 1, "same", 1, 1),       # "same" with an even kernel (asymmetric)
    (1, 2, 9, 8, 3, (3, 3), 1, "same", 2, 1),       # "same" with dilation
    (2, 3, 6, 5, 2, (3, 3), 1, "valid", 1, 1),
    # output rows of 30-32 (and 64) fill register tiles: the forward by rows (conv_rows_template.h),
    # with its edge tiles, k blocks, dilation and stride along rows, padding wider than the kernel
    (2, 6, 9, 31, 4, (3, 3), (2, 1), (3, 1), (2, 1), 2),
    (1, 3, 5, 31, 5, (4, 2), 1, "same", 1, 1),
    (2, 3, 6, 36, 7, (2, 5), 1, 0, 1, 1),
    (1, 2, 4, 26, 3, (3, 3), 1, (4, 3), 1, 1),
    (1, 96, 4, 30, 9, (3, 3), 1, 1, 1, 1),
    (1, 4, 3, 64, 12, (3, 3), 1, 1, (1, 2), 4),
    (1, 64, 70, 32, 10, (3, 3), 1, 1, 1, 1),        # bands of rows (forward and dW), an edge panel
]


def _pads(padding, kernel, dilation):
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        d = dilation if isinstance(dilation, tuple) else (dilation, dilation)
        total = [di * (k - 1) for k, di in zip(kernel, d)]
        return tuple((t // 2, t - t // 2) for t in total)
    p = padding if isinstance(padding, tuple) else (padding, padding)
    return ((p[0], p[0]), (p[1], p[1]))


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def _case(case, dtype, seed=0):
    n, c, h, w, o, kernel, stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((o, c // groups) + kernel).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    ref_args = dict(stride=_pair(stride), pad=_pads(padding, kernel, dilation), dilation=_pair(dilation),
                    groups=groups)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, weight, bias, args, ref_args


def _close(actual, expected, dtype):
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    tol = 1e-11 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d_forward_and_backward_match_the_reference(case, dtype):
    x, weight, bias, args, ref_args = _case(case, dtype)
    y = F.conv2d(x, weight, bias, **args)
    expected = refc.conv2d(x, weight, bias, **ref_args)
    assert y.shape == expected.shape and y.dtype == dtype
    _close(y, expected, dtype)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    dx, dw, db = F.conv2d_backward(dy, x, weight, **args)
    rdx, rdw, rdb = refc.conv2d_backward(dy, x, weight, **ref_args)
    _close(dx, rdx, dtype)
    _close(dw, rdw, dtype)
    _close(db, rdb, dtype)
    none_dx, dw2, none_db = F.conv2d_backward(dy, x, weight, need_input_grad=False,
                                              need_bias_grad=False, **args)
    assert none_dx is None and none_db is None
    np.testing.assert_array_equal(dw2, dw)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "gelu_tanh"])
def test_conv2d_fused_activation_and_its_backward(activation):
    x, weight, bias, args, ref_args = _case(CONV_CASES[0], np.float64)
    pre = np.empty((2, 4, 7, 6))
    y = F.conv2d(x, weight, bias, activation=activation, pre_activation_out=pre, **args)
    s = refc.conv2d(x, weight, bias, **ref_args)
    np.testing.assert_allclose(pre, s, atol=1e-12)
    np.testing.assert_allclose(y, getattr(ref, activation)(s), atol=1e-12)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    dx, dw, db = F.conv2d_backward(dy, x, weight, activation=activation, output=y,
                                   pre_activation=pre, **args)
    delta = dy * ref.derivative(activation, s)
    rdx, rdw, rdb = refc.conv2d_backward(delta, x, weight, **ref_args)
    for got, want in ((dx, rdx), (dw, rdw), (db, rdb)):
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_conv_gradients_match_finite_differences():
    x, weight, bias, args, _ = _case((2, 4, 5, 6, 4, (3, 2), (2, 1), 1, (1, 2), 2), np.float64)
    r = np.random.default_rng(3).standard_normal(F.conv2d(x, weight, bias, **args).shape)
    loss = lambda x_, w_, b_: float((F.conv2d(x_, w_, b_, activation="tanh", **args) * r).sum())
    y = F.conv2d(x, weight, bias, activation="tanh", **args)
    dx, dw, db = F.conv2d_backward(r, x, weight, activation="tanh", output=y, **args)
    np.testing.assert_allclose(dx, ref.numerical_gradient(lambda v: loss(v, weight, bias), x), atol=1e-7)
    np.testing.assert_allclose(dw, ref.numerical_gradient(lambda v: loss(x, v, bias), weight), atol=1e-7)
    np.testing.assert_allclose(db, ref.numerical_gradient(lambda v: loss(x, weight, v), bias), atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv1d_is_conv2d_over_one_row(dtype):
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((3, 4, 17), (6, 2, 5), (6,)))
    y = F.conv1d(x, w, b, stride=2, padding=3, dilation=2, groups=2)
    expected = refc.conv2d(x[:, :, None], w[:, :, None], b, stride=(1, 2), pad=((0, 0), (3, 3)),
                           dilation=(1, 2), groups=2)[:, :, 0]
    _close(y, expected, dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx, dw, db = F.conv1d_backward(dy, x, w, stride=2, padding=3, dilation=2, groups=2)
    rdx, rdw, rdb = refc.conv2d_backward(dy[:, :, None], x[:, :, None], w[:, :, None], stride=(1, 2),
                                         pad=((0, 0), (3, 3)), dilation=(1, 2), groups=2)
    _close(dx, rdx[:, :, 0], dtype)
    _close(dw, rdw[:, :, 0], dtype)
    _close(db, rdb, dtype)


def test_conv_non_contiguous_input_and_empty_batch():
    x, weight, bias, args, ref_args = _case(CONV_CASES[0], np.float64)
    view = np.asfortranarray(x)
    np.testing.assert_allclose(F.conv2d(view, weight, bias, **args), refc.conv2d(x, weight, bias, **ref_args))
    empty = F.conv2d(x[:0], weight, bias, **args)
    assert empty.shape == (0, 4, 7, 6)


@pytest.mark.parametrize("bad, message", [
    (dict(x=(2, 5, 8, 8)), "5 channels"),
    (dict(x=(2, 3, 2, 8)), "smaller than the kernel"),
    (dict(x=(3, 8, 8)), "4-D"),
    (dict(stride=2, padding="same"), "stride 1"),
    (dict(padding="full"), "padding"),
    (dict(groups=2), "channels"),
])
def test_conv2d_bad_input_raises_naming_the_shapes(bad, message):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(bad.get("x", (2, 3, 8, 8)))
    w = rng.standard_normal((4, 3, 3, 3))
    kwargs = {k: v for k, v in bad.items() if k != "x"}
    with pytest.raises(ValueError, match=message):
        F.conv2d(x, w, **kwargs)


def test_conv2d_type_errors():
    w = np.ones((1, 1, 2, 2))
    with pytest.raises(TypeError, match="float32 or float64"):
        F.conv2d(np.ones((1, 1, 3, 3), np.int32), w)
    with pytest.raises(TypeError, match="dtype"):
        F.conv2d(np.ones((1, 1, 3, 3), np.float32), w)
    with pytest.raises(TypeError, match="ndarray"):
        F.conv2d([[[[1.0]]]], w)


# ---------------------------------------------------------------- pooling

# (shape, kernel, stride, padding, dilation, ceil_mode)
POOL_CASES = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),
    ((2, 3, 7, 9), 3, 2, 1, 1, False),        # odd sizes, overlapping, padded
    ((1, 2, 7, 9), 3, 2, 1, 1, True),         # ceil mode
    ((2, 2, 9, 9), 2, 3, 0, 1, False),        # stride > kernel
    ((2, 2, 10, 11), 3, 1, 1, 2, False),      # dilation
    ((1, 1, 1, 1), 1, 1, 0, 1, False),        # a single pixel
    ((3, 2, 5, 6), (2, 3), (1, 2), (1, 1), 1, True),
    ((2, 3, 6, 6), 4, 4, 2, 1, True),         # padding = kernel / 2, ceil mode drops a window
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool2d_matches_the_reference(case, dtype):
    shape, kernel, stride, padding, dilation, ceil_mode = case
    x = np.random.default_rng(5).standard_normal(shape).astype(dtype)
    k, s = _pair(kernel), _pair(stride if stride is not None else kernel)
    p, d = _pair(padding), _pair(dilation)
    y, indices = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)
    np.testing.assert_array_equal(y, refc.max_pool2d(x, k, s, p, d, ceil_mode).astype(dtype))
    dy = np.random.default_rng(6).standard_normal(y.shape).astype(dtype)
    dx = F.max_pool2d_backward(dy, indices, x.shape, kernel, stride, padding, dilation, ceil_mode)
    _close(dx, refc.max_pool2d_backward(dy, x, k, s, p, d, ceil_mode), dtype)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("case", [c for c in POOL_CASES if c[4] == 1], ids=str)
def test_avg_pool2d_matches_the_reference_and_finite_differences(case, count_include_pad):
    shape, kernel, stride, padding, _, ceil_mode = case
    x = np.random.default_rng(7).standard_normal(shape)
    k, s, p = _pair(kernel), _pair(stride if stride is not None else kernel), _pair(padding)
    y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad)
    np.testing.assert_allclose(y, refc.avg_pool2d(x, k, s, p, ceil_mode, count_include_pad), atol=1e-12)
    r = np.random.default_rng(8).standard_normal(y.shape)
    dx = F.avg_pool2d_backward(r, x.shape, kernel, stride, padding, ceil_mode, count_include_pad)
    numeric = ref.numerical_gradient(
        lambda v: float((F.avg_pool2d(v, kernel, stride, padding, ceil_mode, count_include_pad) * r).sum()), x)
    np.testing.assert_allclose(dx, numeric, atol=1e-7)


def test_avg_pool2d_divisor_override():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(F.avg_pool2d(x, 2, divisor_override=2), refc.avg_pool2d(x, (2, 2), (2, 2)) * 2)
    dx = F.avg_pool2d_backward(np.ones((1, 1, 2, 2)), x.shape, 2, divisor_override=2)
    np.testing.assert_allclose(dx, np.full(x.shape, 0.5))


def test_pool1d_is_pool2d_over_one_row():
    x = np.random.default_rng(9).standard_normal((2, 3, 13))
    y, idx = F.max_pool1d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y, refc.max_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1))[:, :, 0])
    dx = F.max_pool1d_backward(np.ones_like(y), idx, x.shape, 3, 2, 1)
    np.testing.assert_allclose(dx, refc.max_pool2d_backward(np.ones_like(y)[:, :, None], x[:, :, None],
                                                            (1, 3), (1, 2), (0, 1))[:, :, 0])
    np.testing.assert_allclose(F.avg_pool1d(x, 4, 3, 2),
                               refc.avg_pool2d(x[:, :, None], (1, 4), (1, 3), (0, 2))[:, :, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_ties_signed_zeros_and_nans_follow_the_scan(dtype):
    # the 2 x 2 stride-2 path (selects, not the scan): the first maximum in scan order wins, of
    # -0 and +0 the first is kept, the first NaN wins; odd sizes leave a row and column out
    rng = np.random.default_rng(12)
    x = rng.integers(-2, 3, (2, 3, 7, 137)).astype(dtype)
    x[x == 0] = rng.choice(np.array([0.0, -0.0], dtype), (x == 0).sum())
    x.flat[rng.choice(x.size, 40, replace=False)] = np.nan
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    for n, c, oh, ow in np.ndindex(*y.shape):
        best, where = None, None
        for i in (2 * oh, 2 * oh + 1):
            for j in (2 * ow, 2 * ow + 1):
                v = x[n, c, i, j]
                if best is None or v > best or (np.isnan(v) and not np.isnan(best)):
                    if best is not None and np.isnan(best):
                        continue
                    best, where = v, i * x.shape[3] + j
        assert idx[n, c, oh, ow] == where
        got = y[n, c, oh, ow]
        assert (np.isnan(got) and np.isnan(best)) or (got == best and np.signbit(got) == np.signbit(best))


def test_max_pool_propagates_nan():
    x = np.zeros((1, 1, 2, 2))
    x[0, 0, 1, 0] = np.nan
    assert np.isnan(F.max_pool2d(x, 2)).all()


@pytest.mark.parametrize("shape, out", [((2, 3, 7, 5), (1, 1)), ((2, 3, 7, 5), (3, 2)),
                                        ((1, 2, 4, 4), (4, 4)), ((1, 1, 5, 3), (2, None))])
def test_adaptive_avg_pool2d_matches_the_reference(shape, out):
    x = np.random.default_rng(10).standard_normal(shape)
    full = tuple(s if o is None else o for o, s in zip(out, shape[2:]))
    y = F.adaptive_avg_pool2d(x, out)
    np.testing.assert_allclose(y, refc.adaptive_avg_pool2d(x, full), atol=1e-12)
    r = np.random.default_rng(11).standard_normal(y.shape)
    dx = F.adaptive_avg_pool2d_backward(r, x.shape, out)
    numeric = ref.numerical_gradient(lambda v: float((F.adaptive_avg_pool2d(v, out) * r).sum()), x)
    np.testing.assert_allclose(dx, numeric, atol=1e-7)
    g = F.adaptive_avg_pool1d(x[:, :, 0], 1)
    np.testing.assert_allclose(g[:, :, 0], x[:, :, 0].mean(axis=2))


@pytest.mark.parametrize("call, message", [
    (lambda x: F.max_pool2d(x, 3, padding=2), "at most half"),
    (lambda x: F.max_pool2d(x[:, :, :2], 3), "smaller than the kernel"),
    (lambda x: F.avg_pool2d(x[0], 2), "4-D"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), "divisor_override"),
    (lambda x: F.adaptive_avg_pool2d(x, 0), "output_size"),
])
def test_pool_bad_input_raises(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.zeros((2, 3, 6, 6)))


# ---------------------------------------------------------------- normalisation

@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 3), (7, 1, 1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_training_forward_backward_and_running_statistics(shape, dtype):
    rng = np.random.default_rng(12)
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 5).astype(dtype)
    gamma, beta = rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)
    running_mean, running_var = np.zeros(c, dtype), np.ones(c, dtype)
    y, mean, invstd = F.batch_norm(x, running_mean, running_var, gamma, beta, training=True,
                                   momentum=0.3, eps=1e-3, return_stats=True)
    expected, batch_mean, batch_var = refc.batch_norm_train(x, gamma, beta, 1e-3)
    _close(y, expected, dtype)
    count = x.size // c
    np.testing.assert_allclose(running_mean, 0.3 * batch_mean, rtol=1e-5)
    np.testing.assert_allclose(running_var, 0.7 + 0.3 * batch_var * count / (count - 1), rtol=1e-5)
    r = rng.standard_normal(shape).astype(dtype)
    dx, dgamma, dbeta = F.batch_norm_backward(r, x, mean, invstd, gamma, training=True)
    x64, g64, b64 = x.astype(np.float64), gamma.astype(np.float64), beta.astype(np.float64)
    loss = lambda x_, g_, b_: float((refc.batch_norm_train(x_, g_, b_, 1e-3)[0] * r).sum())
    tol = 1e-6 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(dx, ref.numerical_gradient(lambda v: loss(v, g64, b64), x64), atol=tol * 10)
    np.testing.assert_allclose(dgamma, ref.numerical_gradient(lambda v: loss(x64, v, b64), g64), atol=tol * 10)
    np.testing.assert_allclose(dbeta, ref.numerical_gradient(lambda v: loss(x64, g64, v), b64), atol=tol * 10)


def test_batch_norm_eval_uses_the_running_statistics():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 4, 2, 2))
    mean, var = rng.standard_normal(4), rng.random(4) + 0.5
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    y, m, invstd = F.batch_norm(x, mean, var, gamma, beta, training=False, eps=1e-5, return_stats=True)
    shape = (1, 4, 1, 1)
    expected = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5) * gamma.reshape(shape) + beta.reshape(shape)
    np.testing.assert_allclose(y, expected, atol=1e-12)
    r = rng.standard_normal(x.shape)
    dx, dgamma, dbeta = F.batch_norm_backward(r, x, m, invstd, gamma, training=False)
    np.testing.assert_allclose(dx, r * (gamma / np.sqrt(var + 1e-5)).reshape(shape), atol=1e-12)
    np.testing.assert_allclose(dbeta, r.sum(axis=(0, 2, 3)), atol=1e-12)
    xhat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + 1e-5)
    np.testing.assert_allclose(dgamma, (r * xhat).sum(axis=(0, 2, 3)), atol=1e-12)


def test_batch_norm_bad_input():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(np.ones((1, 3)), None, None, training=True)
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(np.ones((2, 3)), None, None, training=False)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        F.batch_norm(np.ones((2, 3)), np.zeros(4), np.ones(4), training=False)


@pytest.mark.parametrize("shape, normalized", [((4, 6), 6), ((2, 3, 5), (3, 5)), ((3, 1), 1)])
def test_layer_norm_matches_the_definition_and_finite_differences(shape, normalized):
    rng = np.random.default_rng(14)
    x = rng.standard_normal(shape) * 2 + 1
    nshape = (normalized,) if isinstance(normalized, int) else normalized
    gamma, beta = rng.standard_normal(nshape), rng.standard_normal(nshape)
    axes = tuple(range(len(shape) - len(nshape), len(shape)))

    def reference(x_, g_, b_):
        mu, var = x_.mean(axis=axes, keepdims=True), x_.var(axis=axes, keepdims=True)
        return (x_ - mu) / np.sqrt(var + 1e-5) * g_ + b_

    y, mean, invstd = F.layer_norm(x, normalized, gamma, beta, return_stats=True)
    np.testing.assert_allclose(y, reference(x, gamma, beta), atol=1e-12)
    r = rng.standard_normal(shape)
    dx, dgamma, dbeta = F.layer_norm_backward(r, x, normalized, mean, invstd, gamma)
    loss = lambda x_, g_, b_: float((reference(x_, g_, b_) * r).sum())
    np.testing.assert_allclose(dx, ref.numerical_gradient(lambda v: loss(v, gamma, beta), x), atol=1e-6)
    np.testing.assert_allclose(dgamma, ref.numerical_gradient(lambda v: loss(x, v, beta), gamma), atol=1e-6)
    np.testing.assert_allclose(dbeta, ref.numerical_gradient(lambda v: loss(x, gamma, v), beta), atol=1e-6)


def test_dropout_is_seeded_scaled_and_identity_in_eval():
    x = np.ones((200, 50), np.float32)
    y1, mask = F.dropout(x, 0.3, rng=5, return_mask=True)
    y2 = F.dropout(x, 0.3, rng=5)
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y1 == 0).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(F.dropout_backward(np.full_like(x, 2), mask), 2 * mask)
    assert F.dropout(x, 0.3, training=False) is x
    assert not F.dropout(x, 1.0, rng=0).any()
    with pytest.raises(ValueError, match="p must be"):
        F.dropout(x, 1.5)


def test_flatten():
    x = np.zeros((2, 3, 4, 5))
    assert F.flatten(x).shape == (2, 60)
    assert F.flatten(x, 0, 1).shape == (6, 4, 5)
    assert F.flatten(x, 2).shape == (2, 3, 20)
    assert F.flatten(np.zeros((0, 3, 2))).shape == (0, 6)
    with pytest.raises(ValueError, match="start_dim"):
        F.flatten(x, 3, 1)
