"""Property tests (hypothesis): fastnn against a float64 numpy reference on drawn shapes (0 and 1
included), memory layouts (transposes, stepped slices, reversed and broadcast views), dtypes and
value ranges up to the edge of overflow.

The accuracy bound is the classical one for a sum of k products computed in floating point:
|fl(a·b) - a·b| <= k·eps·(|a|·|b|) elementwise; on small integers every result is exact.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastnn  # noqa: E402

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = st.sampled_from([np.float32, np.float64])
# Small sizes with the edge cases, and sizes that cross the micro-tile (6, 8), register-block
# (16, 32) and k-block (256) boundaries of the kernels.
SIZES = st.one_of(st.integers(0, 9), st.sampled_from([13, 17, 31, 33, 47, 64, 97]))
DEPTHS = st.one_of(SIZES, st.sampled_from([255, 256, 257, 600]))
VALUE_KINDS = st.sampled_from(["normal", "integers", "near_overflow"])
LAYOUTS = st.sampled_from(["c", "f", "stepped", "reversed", "broadcast_row"])


def entry_scale(kind, dtype, depth):
    """Largest power of two s such that entries in [-s, s] keep every partial sum of `depth`
    products below a quarter of the dtype's maximum: results near, not past, overflow."""
    if kind != "near_overflow":
        return 1.0
    limit = float(np.finfo(dtype).max) / (4 * max(depth, 1))
    return float(2.0 ** np.floor(np.log2(np.sqrt(limit))))


def draw_values(rng, shape, kind, dtype, scale):
    if kind == "integers":  # products and sums of these are exact in float32
        return rng.integers(-8, 9, size=shape).astype(dtype)
    values = rng.uniform(-1, 1, size=shape) if kind == "near_overflow" else rng.standard_normal(shape)
    return (values * scale).astype(dtype)


def draw_matrix(rng, shape, kind, dtype, scale, layout):
    """A matrix of `shape` laid out as `layout`; its values need not be distinct."""
    rows, cols = shape
    if layout == "c":
        return draw_values(rng, shape, kind, dtype, scale)
    if layout == "f":
        return np.asfortranarray(draw_values(rng, shape, kind, dtype, scale))
    if layout == "stepped":
        base = draw_values(rng, (2 * rows + 1, 3 * cols + 2), kind, dtype, scale)
        return base[1::2, 2::3][:rows, :cols]
    if layout == "reversed":
        return draw_values(rng, shape, kind, dtype, scale)[::-1, ::-1]
    if layout == "broadcast_row":  # zero row stride: one row repeated
        return np.broadcast_to(draw_values(rng, (1, cols), kind, dtype, scale), shape)
    raise AssertionError(layout)


def draw_out(rng, shape, dtype, kind):
    """An `out=` array of `shape`, filled with NaN so that reading it instead of overwriting it
    shows up in the result."""
    rows, cols = shape
    if kind == "c":
        out = np.empty(shape, dtype)
    elif kind == "f":
        out = np.empty((cols, rows), dtype).T
    elif kind == "stepped":
        out = np.empty((rows, 2 * cols), dtype)[:, ::2]
    elif kind == "reversed_rows":
        out = np.empty(shape, dtype)[::-1]
    else:
        raise AssertionError(kind)
    out.fill(np.nan)
    return out


def assert_within_product_bound(result, a64, b64, dtype, exact=False):
    reference = a64 @ b64
    assert result.shape == reference.shape and result.dtype == dtype
    if exact:
        np.testing.assert_array_equal(result, reference)
        return
    depth = a64.shape[1]
    eps = np.finfo(dtype).eps
    tiny = np.finfo(dtype).tiny  # denormals are flushed inside the kernels
    bound = (depth + 2) * eps * (np.abs(a64) @ np.abs(b64)) + depth * tiny
    assert np.isfinite(result).all()
    error = np.abs(result.astype(np.float64) - reference)
    worst = np.unravel_index(np.argmax(error - bound), error.shape) if error.size else None
    assert (error <= bound).all(), f"at {worst}: error {error[worst]:.3g} > bound {bound[worst]:.3g}"


@SETTINGS
@given(m=SIZES, n=SIZES, k=DEPTHS, dtype=DTYPES, kind=VALUE_KINDS, layout_a=LAYOUTS,
       layout_b=LAYOUTS, trans_a=st.booleans(), trans_b=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_matmul_matches_float64_reference(m, n, k, dtype, kind, layout_a, layout_b, trans_a,
                                          trans_b, seed):
    rng = np.random.default_rng(seed)
    scale = entry_scale(kind, dtype, k)
    a = draw_matrix(rng, (k, m) if trans_a else (m, k), kind, dtype, scale, layout_a)
    b = draw_matrix(rng, (n, k) if trans_b else (k, n), kind, dtype, scale, layout_b)
    a_before, b_before = a.copy(), b.copy()
    result = fastnn.matmul(a, b, trans_a=trans_a, trans_b=trans_b)
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    assert result.flags.c_contiguous
    assert_within_product_bound(result, op_a.astype(np.float64), op_b.astype(np.float64), dtype,
                                exact=kind == "integers")
    np.testing.assert_array_equal(a, a_before)
    np.testing.assert_array_equal(b, b_before)


@SETTINGS
@given(m=SIZES, n=SIZES, k=DEPTHS, dtype=DTYPES, kind=VALUE_KINDS, layout_a=LAYOUTS,
       out_kind=st.sampled_from(["c", "f", "stepped", "reversed_rows"]),
       seed=st.integers(0, 2**32 - 1))
def test_matmul_into_out_of_any_layout(m, n, k, dtype, kind, layout_a, out_kind, seed):
    rng = np.random.default_rng(seed)
    scale = entry_scale(kind, dtype, k)
    a = draw_matrix(rng, (m, k), kind, dtype, scale, layout_a)
    b = draw_matrix(rng, (k, n), kind, dtype, scale, "c")
    out = draw_out(rng, (m, n), dtype, out_kind)
    result = fastnn.matmul(a, b, out=out)
    assert result is out
    assert_within_product_bound(out, a.astype(np.float64), b.astype(np.float64), dtype,
                                exact=kind == "integers")


@SETTINGS
@given(m=st.integers(1, 20), n=st.integers(1, 40), k=st.integers(1, 40), dtype=DTYPES,
       row=st.integers(0, 19), seed=st.integers(0, 2**32 - 1))
def test_nan_in_a_row_spreads_over_that_row_only(m, n, k, dtype, row, seed):
    """NaN propagates as in IEEE arithmetic: a NaN in row i of a makes row i of the product NaN,
    and (with finite other entries) no other row."""
    rng = np.random.default_rng(seed)
    row %= m
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    a[row, rng.integers(k)] = np.nan
    result = fastnn.matmul(a, b)
    assert np.isnan(result[row]).all()
    assert np.isfinite(np.delete(result, row, axis=0)).all()


@SETTINGS
@given(k=st.integers(1, 300), dtype=DTYPES, sign=st.sampled_from([1.0, -1.0]))
def test_past_overflow_gives_signed_infinity(k, dtype, sign):
    """Every product is max/2 or more: the sum of k >= 2 of them overflows to ±inf, never NaN or
    garbage."""
    big = float(np.finfo(dtype).max)
    a = np.full((3, k), np.sqrt(big), dtype)
    b = np.full((k, 5), sign * np.sqrt(big) * 0.75, dtype)
    result = fastnn.matmul(a, b)
    if k >= 2:
        assert (result == sign * np.inf).all()
    else:
        assert np.isfinite(result).all()


@SETTINGS
@given(shape_a=st.tuples(st.integers(0, 6), st.integers(0, 6)),
       shape_b=st.tuples(st.integers(0, 6), st.integers(0, 6)),
       dtype_a=st.sampled_from([np.float32, np.float64, np.int64, np.float16, np.complex64]),
       dtype_b=st.sampled_from([np.float32, np.float64, np.int32]))
def test_matmul_rejects_what_it_cannot_compute(shape_a, shape_b, dtype_a, dtype_b):
    """Either the inputs are valid (same float dtype, inner sizes equal) and the result is
    right, or a TypeError/ValueError says why; nothing else."""
    a = np.ones(shape_a, dtype_a)
    b = np.ones(shape_b, dtype_b)
    valid = (dtype_a == dtype_b and np.dtype(dtype_a).type in (np.float32, np.float64)
             and shape_a[1] == shape_b[0])
    if valid:
        np.testing.assert_array_equal(fastnn.matmul(a, b), a @ b)
    else:
        with pytest.raises((TypeError, ValueError)):
            fastnn.matmul(a, b)


# ---------------------------------------------------------------- layers and losses
#
# Error model: s = x·Wᵀ + b carries the product bound above; an activation with Lipschitz
# constant L turns an error e in s into at most L·e, plus a few ulps of its own (GELU's erf form
# cancels for negative s: ulps of |s|). Backward forms dS = g ⊙ act'(S) with act' from the stored
# output or pre-activation, so dS errs by at most |g|·(2·e + 16·eps) with e the forward error
# bound; dW = dSᵀ·x and dx = dS·W add the product bound again.

nn = pytest.importorskip("fastnn.nn")
import reference  # noqa: E402  (tests/reference.py: the float64 numpy oracle)

LIPSCHITZ = {None: 1.0, "relu": 1.0, "tanh": 1.0, "sigmoid": 0.25, "gelu": 1.13, "gelu_tanh": 1.13}
ACTIVATION_NAMES = st.sampled_from(sorted(LIPSCHITZ, key=str))
FEATURES = st.one_of(st.integers(1, 9), st.sampled_from([16, 17, 31, 32, 33, 64, 65, 257]))
BATCHES = st.one_of(st.integers(1, 9), st.sampled_from([15, 16, 17, 64, 100]))


def product_bound(a64, b64, dtype):
    depth = a64.shape[1]
    return (depth + 2) * np.finfo(dtype).eps * (np.abs(a64) @ np.abs(b64)) + depth * np.finfo(dtype).tiny


def assert_within(name, result, reference_value, bound):
    error = np.abs(np.asarray(result, np.float64) - reference_value)
    assert (error <= bound).all(), (
        f"{name}: worst excess {np.max(error - bound):.3g} (error {error.max():.3g})")


@SETTINGS
@given(n=BATCHES, in_features=FEATURES, out_features=FEATURES, dtype=DTYPES,
       activation=ACTIVATION_NAMES, bias=st.booleans(), layout=LAYOUTS,
       kind=st.sampled_from(["normal", "integers"]), seed=st.integers(0, 2**32 - 1))
def test_linear_layer_forward_and_backward(n, in_features, out_features, dtype, activation, bias,
                                           layout, kind, seed):
    rng = np.random.default_rng(seed)
    layer = nn.Linear(in_features, out_features, bias, activation=activation, dtype=dtype, rng=seed)
    x = draw_matrix(rng, (n, in_features), kind, dtype, 1.0, layout)
    g = rng.standard_normal((n, out_features)).astype(dtype)
    eps = np.finfo(dtype).eps
    w64 = layer.weight.data.astype(np.float64)
    b64 = layer.bias.data.astype(np.float64) if bias else None
    x64 = x.astype(np.float64)

    y = layer(x)
    y_ref, s_ref = reference.linear(x64, w64, b64, activation)
    s_bound = product_bound(x64, w64.T, dtype) + (eps * np.abs(b64) if bias else 0)
    y_bound = LIPSCHITZ[activation] * s_bound + 8 * eps * (np.abs(y_ref) + np.abs(s_ref))
    assert y.shape == (n, out_features) and y.dtype == dtype
    assert_within("y", y, y_ref, y_bound)

    dx = layer.backward(g)
    # ReLU's derivative jumps at 0: take it where fastnn's own forward put each element
    s_for_derivative = np.where(y > 0, 1.0, -1.0) if activation == "relu" else s_ref
    dx_ref, dw_ref, db_ref = reference.linear_backward(g, x64, w64, s_for_derivative, activation)
    ds_ref = g.astype(np.float64) * reference.derivative(activation or "identity", s_for_derivative)
    smooth = activation not in (None, "relu")
    ds_error = np.abs(g) * (2 * y_bound + 16 * eps) if smooth else np.zeros_like(ds_ref)
    ds_size = np.abs(ds_ref) + ds_error
    assert_within("dW", layer.weight.grad, dw_ref,
                  product_bound(ds_size.T, np.abs(x64), dtype) + ds_error.T @ np.abs(x64))
    assert_within("dx", dx, dx_ref, product_bound(ds_size, np.abs(w64), dtype) + ds_error @ np.abs(w64))
    if bias:
        assert_within("db", layer.bias.grad, db_ref, ds_error.sum(axis=0) + n * eps * ds_size.sum(axis=0))


@SETTINGS
@given(n=BATCHES, c=st.integers(1, 40), dtype=DTYPES, name=st.sampled_from(
    ["relu", "tanh", "sigmoid", "gelu", "gelu_tanh", "softmax", "identity"]),
    magnitude=st.sampled_from([1.0, 30.0, 1e4]), seed=st.integers(0, 2**32 - 1))
def test_activation_modules(n, c, dtype, name, magnitude, seed):
    """Forward and backward of each activation module against the oracle, at inputs up to
    magnitudes where exp overflows unless the kernels are careful."""
    rng = np.random.default_rng(seed)
    module = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "gelu": nn.GELU(),
              "gelu_tanh": nn.GELU(approximate="tanh"), "softmax": nn.Softmax(dim=-1),
              "identity": nn.Identity()}[name]
    x = (rng.standard_normal((n, c)) * magnitude).astype(dtype)
    g = rng.standard_normal((n, c)).astype(dtype)
    eps = np.finfo(dtype).eps
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    y = module(x)
    assert y.shape == x.shape and y.dtype == dtype and np.isfinite(y).all()
    if name == "softmax":
        y_ref = reference.softmax(x64)
        dx_ref = reference.softmax_backward(g64, y_ref)
        y_bound = 8 * c * eps * (y_ref + 1e-30) + eps * y_ref * np.abs(x64).max(axis=1, keepdims=True)
        dx_bound = 16 * c * eps * np.abs(y_ref) * (np.abs(g64) + np.abs(g64 * y_ref).sum(1, keepdims=True)) \
            + 2 * y_bound * (np.abs(g64) + np.abs(g64).sum(1, keepdims=True))
    else:
        y_ref = reference.FORWARD[name](x64)
        y_bound = 8 * eps * (np.abs(y_ref) + np.abs(x64))
        s_for_derivative = np.where(y > 0, 1.0, -1.0) if name == "relu" else x64
        dx_ref = g64 * reference.derivative(name, s_for_derivative)
        dx_bound = np.abs(g64) * (2 * y_bound + 16 * eps)
    assert_within("y", y, y_ref, y_bound)
    dx = module.backward(g)
    assert dx.shape == x.shape and dx.dtype == dtype
    assert_within("dx", dx, dx_ref, dx_bound)


@SETTINGS
@given(n=BATCHES, c=st.integers(1, 40), dtype=DTYPES, reduction=st.sampled_from(["mean", "sum"]),
       loss_name=st.sampled_from(["mse", "cross_entropy_index", "cross_entropy_probability",
                                  "bce", "hinge_binary", "hinge_multiclass"]),
       magnitude=st.sampled_from([1.0, 50.0, 1e6]), seed=st.integers(0, 2**32 - 1))
def test_losses_against_the_oracle(n, c, dtype, reduction, loss_name, magnitude, seed):
    """Loss value and gradient against the float64 oracle; the gradient against the oracle's own
    finite differences would need float64 and small sizes, which tests/test_losses.py covers."""
    rng = np.random.default_rng(seed)
    eps = np.finfo(dtype).eps
    if loss_name == "hinge_multiclass":
        c = max(c, 2)  # one column is the binary form
    prediction = (rng.standard_normal((n, c)) * magnitude).astype(dtype)
    if loss_name == "mse":
        module, target = nn.MSELoss(reduction=reduction), rng.standard_normal((n, c)).astype(dtype)
        oracle = reference.mse_loss
    elif loss_name == "cross_entropy_index":
        module, target = nn.CrossEntropyLoss(reduction=reduction), rng.integers(0, c, n)
        oracle = reference.cross_entropy
    elif loss_name == "cross_entropy_probability":
        target = rng.dirichlet(np.ones(c), n).astype(dtype)
        module, oracle = nn.CrossEntropyLoss(reduction=reduction), reference.cross_entropy
    elif loss_name == "bce":
        module, target = nn.BCEWithLogitsLoss(reduction=reduction), rng.uniform(0, 1, (n, c)).astype(dtype)
        oracle = reference.binary_cross_entropy_with_logits
    elif loss_name == "hinge_binary":
        prediction = prediction[:, :1].copy()
        module, target = nn.HingeLoss(reduction=reduction), rng.choice([-1.0, 1.0], (n, 1)).astype(dtype)
        oracle = reference.hinge_loss
    else:
        module, target = nn.HingeLoss(reduction=reduction), rng.integers(0, c, n)
        oracle = reference.hinge_loss
    p64 = prediction.astype(np.float64)
    target_ref = target.astype(np.float64) if target.dtype.kind == "f" else target

    loss = module(prediction, target)
    expected = oracle(p64, target_ref, reduction)
    count = prediction.size if loss_name in ("mse", "bce") else n
    per_element = 1.0 / count if reduction == "mean" else 1.0
    # each term is computed to a few ulps of the inputs' magnitude, the sum in double
    scale = np.abs(p64).max() + np.abs(target_ref.astype(np.float64)).max() + 1.0
    if loss_name == "mse":
        scale = scale * scale
    assert np.isfinite(loss)
    assert abs(loss - expected) <= 64 * c * eps * scale * prediction.size * per_element, (loss, expected)

    grad = module.backward()
    grad_ref = reference_gradient(oracle, p64, target_ref, reduction)
    assert grad.shape == prediction.shape and grad.dtype == dtype and np.isfinite(grad).all()
    grad_scale = 2 * scale if loss_name == "mse" else 1.0
    assert_within("gradient", grad, grad_ref, np.full_like(grad_ref, 64 * c * eps * grad_scale * per_element))


def reference_gradient(oracle, prediction, target, reduction):
    """The oracle's gradient, from the closed forms of each loss (exact in float64)."""
    n = prediction.shape[0]
    if oracle is reference.mse_loss:
        grad = 2 * (prediction - target)
        return grad / prediction.size if reduction == "mean" else grad
    if oracle is reference.cross_entropy:
        probabilities = reference.softmax(prediction)
        if target.dtype.kind in "iu":
            onehot = np.zeros_like(prediction)
            onehot[np.arange(n), target] = 1.0
        else:
            onehot = target * 1.0
        grad = probabilities * onehot.sum(axis=1, keepdims=True) - onehot
        return grad / n if reduction == "mean" else grad
    if oracle is reference.binary_cross_entropy_with_logits:
        grad = reference.sigmoid(prediction) - target
        return grad / prediction.size if reduction == "mean" else grad
    # hinge
    if prediction.shape[1] == 1 and target.dtype.kind == "f":
        active = (1.0 - target * prediction) > 0
        grad = np.where(active, -target, 0.0)
    else:
        c = prediction.shape[1]
        correct = prediction[np.arange(n), target][:, None]
        active = (1.0 - correct + prediction) > 0
        active[np.arange(n), target] = False
        grad = active / c
        grad[np.arange(n), target] = -active.sum(axis=1) / c
    return grad / n if reduction == "mean" else grad
