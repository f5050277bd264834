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
