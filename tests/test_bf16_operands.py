"""fastnn.matmul on operands stored in bf16 (fastnn.BF16Array, ml_dtypes.bfloat16 arrays, and
either mixed with float32), on every kernel set: against a float64 reference of the bf16 values,
bit for bit against the float32 arrays that round to the same values, on every transpose, block
edge and view; fastnn.to_bf16's rounding; the errors."""
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import _core

sys.path.insert(0, str(Path(__file__).parent))
from gemm_sweep import error_bound, reference  # noqa: E402
from reference import round_to_bf16  # noqa: E402

FORMS = list(itertools.product((False, True), repeat=2))


def operands(rng, m, n, k, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    return a, b


def assert_equals_float32_input(a_stored, b_stored, a, b, trans_a, trans_b):
    """The product of the stored operands: bit for bit the float32 product of a and b (which
    round to the stored values), and within float32 summation error of the float64 product of
    the bf16 values."""
    expected = fastnn.matmul(a, b, trans_a=trans_a, trans_b=trans_b, precision="bf16")
    got = fastnn.matmul(a_stored, b_stored, trans_a=trans_a, trans_b=trans_b, precision="bf16")
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    a16, b16 = round_to_bf16(a), round_to_bf16(b)
    bound = error_bound(a16, b16, trans_a, trans_b, np.float32)
    assert (np.abs(got - reference(a16, b16, trans_a, trans_b)) <= bound).all()
    return got


def shapes_around_the_blocks():
    """Rows and columns off the register tiles, k odd and around KC, several panels of B."""
    blocks = _core.kernel_blocking()
    bf16 = blocks["bf16"]
    mr, nr, kc, nc = bf16["mr"], bf16["nr"], bf16["kc"], bf16["nc"]
    narrow = blocks.get("bf16_narrow", bf16)["mr"]
    yield from [(1, 1, 1), (2, 3, 1), (3, 5, 2), (7, 9, 3), (13, 17, 19)]
    for m in (mr - 1, mr + 1, narrow * 8, 2 * mr + 5):
        yield (m, nr + 3, 33)
    for n in (nr - 1, nr + 1, nc + 1):
        yield (mr + 1, n, 17)
    for k in (15, 16, 17, 31, 32, 33, 63, 65):  # the packers' 16- and 32-step blocks and pairs
        yield (narrow + 3, nr + 5, k)
    yield (mr + 1, nr + 1, kc + 1)  # a second pass over k, one step deep
    # X W^T's dot kernels (few rows and deep, or few columns): the same sums from either storage
    yield from [(1, 70, 300), (5, 40, 129), (12, 33, 257), (50, 7, 131), (9, 3, 45)]


@pytest.mark.parametrize("trans_a, trans_b", FORMS)
def test_stored_operands_on_every_kernel_set_equal_the_float32_ones(every_isa, trans_a, trans_b):
    rng = np.random.default_rng(21)
    for m, n, k in shapes_around_the_blocks():
        a, b = operands(rng, m, n, k, trans_a, trans_b)
        a16, b16 = fastnn.to_bf16(a), fastnn.to_bf16(b)
        assert_equals_float32_input(a16, b16, a, b, trans_a, trans_b)
        assert_equals_float32_input(a16, b, a, b, trans_a, trans_b)  # mixed, either way
        assert_equals_float32_input(a, b16, a, b, trans_a, trans_b)


@pytest.mark.parametrize("trans_a, trans_b", FORMS)
def test_large_product_over_several_panels_and_passes(trans_a, trans_b):
    """The vector packers' whole panels, A packed once for several panels of B, two passes
    over k, on two threads when the machine has them."""
    kc, nc = _core.kernel_blocking()["bf16"]["kc"], _core.kernel_blocking()["bf16"]["nc"]
    rng = np.random.default_rng(22)
    a, b = operands(rng, 200, nc + 70, kc + 37, trans_a, trans_b)
    assert_equals_float32_input(fastnn.to_bf16(a), fastnn.to_bf16(b), a, b, trans_a, trans_b)


def test_ml_dtypes_arrays_are_read_as_bf16():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(23)
    a, b = operands(rng, 37, 45, 70, False, True)
    a_ml, b_ml = a.astype(ml_dtypes.bfloat16), b.astype(ml_dtypes.bfloat16)
    # ml_dtypes rounds to nearest even as fastnn.to_bf16 does
    np.testing.assert_array_equal(a_ml.view(np.uint16), fastnn.to_bf16(a).bits)
    assert_equals_float32_input(a_ml, b_ml, a, b, False, True)
    assert_equals_float32_input(a_ml, b, a, b, False, True)
    # views of ml_dtypes arrays: a transpose, a reversed and strided slice
    view = a_ml.T[::-1, ::2]
    got = fastnn.matmul(view, b_ml[::-2][:18].T[:19], precision="bf16")
    expected = fastnn.matmul(a.T[::-1, ::2], b[::-2][:18].T[:19], precision="bf16")
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("trans_a, trans_b", FORMS)
def test_views_and_any_out(trans_a, trans_b):
    rng = np.random.default_rng(24)
    big_a = rng.standard_normal((90, 140)).astype(np.float32)
    big_b = rng.standard_normal((130, 150)).astype(np.float32)
    a = big_a[1::2, ::3][:, :40] if not trans_a else big_a[1::2, ::3][:, :40].T
    b = big_b[::-3, 5:50][:40] if not trans_b else big_b[::-3, 5:50][:40].T
    stored_a = fastnn.to_bf16(big_a)[1::2, ::3][:, :40]  # views of the stored bits
    stored_b = fastnn.to_bf16(big_b)[::-3, 5:50][:40]
    if trans_a:
        stored_a = stored_a.T
    if trans_b:
        stored_b = stored_b.T
    expected = assert_equals_float32_input(stored_a, stored_b, a, b, trans_a, trans_b)
    for out in (np.empty(expected.shape[::-1], np.float32).T,           # column-major
                np.empty((expected.shape[0], 2 * expected.shape[1]), np.float32)[:, ::2]):
        result = fastnn.matmul(stored_a, stored_b, trans_a=trans_a, trans_b=trans_b, out=out,
                               precision="bf16")
        assert result is out
        np.testing.assert_array_equal(out, expected)


def test_misaligned_bits_are_copied_not_misread():
    rng = np.random.default_rng(25)
    a, b = operands(rng, 9, 11, 13, False, False)
    raw = np.zeros(a.size + 1, np.uint16).view(np.uint8)[1:1 + 2 * a.size]
    odd = raw.view(np.uint16).reshape(a.shape)  # 2-byte values at odd addresses
    odd[...] = fastnn.to_bf16(a).bits
    assert not odd.flags.aligned
    assert_equals_float32_input(fastnn.BF16Array(odd), b, a, b, False, False)


def test_empty_and_zero_depth_products():
    z = fastnn.to_bf16(np.zeros((3, 0), np.float32))
    np.testing.assert_array_equal(fastnn.matmul(z, z, trans_b=True, precision="bf16"),
                                  np.zeros((3, 3), np.float32))
    assert fastnn.matmul(z.T, fastnn.to_bf16(np.ones((3, 4), np.float32)),
                         precision="bf16").shape == (0, 4)


def test_denormal_bf16_values_count_as_zero_on_every_kernel_set(every_isa):
    """VDPBF16PS reads a denormal as zero; the float32 kernels standing in for it widen it to
    zero too, so that results do not depend on the machine."""
    bits = np.array([[0x0001, 0x8040, 0x3F80]], np.uint16)  # two denormals and 1.0
    a = fastnn.BF16Array(bits)
    ones = np.ones((3, 1), np.float32)
    assert fastnn.matmul(a, ones, precision="bf16")[0, 0] == 1.0


# ---------------------------------------------------------------- to_bf16 and BF16Array

def test_to_bf16_rounds_to_nearest_even_and_keeps_special_values():
    x = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9, -2.5, np.inf, -np.inf, np.nan,
                  3.4e38, 1e-40, -0.0], np.float32)
    got = fastnn.to_bf16(x).to_float32()
    assert got[0] == 1 and got[1] == 1 + 2 ** -6 and got[2] == 1 and got[3] == -2.5
    assert got[4] == np.inf and got[5] == -np.inf and np.isnan(got[6])
    assert got[7] == np.inf  # past the largest bf16, nearer infinity
    assert got[8] != 0 and abs(got[8] - 1e-40) < 2 ** -133  # denormals kept, as ml_dtypes does
    assert got[9] == 0 and np.signbit(got[9])
    # away from denormals, the same rounding as the bf16 products' (tests/reference.py)
    normal = np.abs(x) > 1e-37
    np.testing.assert_array_equal(got[normal], round_to_bf16(x)[normal])


def test_bf16_array_is_a_view_of_its_bits():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    h = fastnn.to_bf16(x)
    assert h.shape == (3, 4) and h.ndim == 2 and h.size == 12 and h.nbytes == 24 and len(h) == 3
    assert h.T.shape == (4, 3) and h.T.bits.base is not None
    np.testing.assert_array_equal(np.asarray(h), x)
    np.testing.assert_array_equal(np.asarray(h[1:, ::2]), x[1:, ::2])
    assert h[2, 3] == np.float32(11) and isinstance(h[2, 3], np.float32)
    assert np.asarray(h, dtype=np.float64).dtype == np.float64
    assert fastnn.to_bf16(h) is h
    assert "BF16Array(" in repr(h)


def test_bf16_array_errors_name_the_problem():
    with pytest.raises(TypeError, match="uint16 array of bf16 bit patterns, got float32"):
        fastnn.BF16Array(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="real numbers"):
        fastnn.to_bf16(np.array(["a"]))


# ---------------------------------------------------------------- matmul's errors

def test_stored_operands_need_precision_bf16():
    h = fastnn.to_bf16(np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="a is stored in bfloat16, which needs precision='bf16'"):
        fastnn.matmul(h, np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="b is stored in bfloat16.*got precision='fp32'"):
        fastnn.matmul(np.ones((2, 2), np.float32), h, precision="fp32")
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'bf16'\)"):
        fastnn.matmul(h, h, precision="fp8")


def test_stored_operands_take_float32_partners_and_out():
    h = fastnn.to_bf16(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="b must be float32 or bfloat16.*got float64"):
        fastnn.matmul(h, np.ones((2, 2)), precision="bf16")
    with pytest.raises(TypeError, match="a must be float32 or float64, got int64"):
        fastnn.matmul(np.ones((2, 2), np.int64), h, precision="bf16")
    with pytest.raises(TypeError, match="out has dtype float64, expected float32"):
        fastnn.matmul(h, h, out=np.empty((2, 2)), precision="bf16")
    with pytest.raises(ValueError, match=r"out has shape \(3, 2\), expected \(2, 2\)"):
        fastnn.matmul(h, h, out=np.empty((3, 2), np.float32), precision="bf16")


def test_stored_operands_check_shapes():
    h = fastnn.to_bf16(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"op\(a\) is \(2, 3\) and op\(b\) is \(2, 3\)"):
        fastnn.matmul(h, h, precision="bf16")
    with pytest.raises(ValueError, match="a must be 2-D, got 1-D"):
        fastnn.matmul(fastnn.to_bf16(np.ones(3, np.float32)), h, precision="bf16")


def test_out_may_not_overlap_stored_operands():
    x = np.ones((4, 4), np.float32)
    shared = np.zeros(32, np.float32)
    bits = shared.view(np.uint16)[:16].reshape(4, 4)
    bits[...] = fastnn.to_bf16(x).bits
    out = shared[:16].reshape(4, 4)
    with pytest.raises(ValueError, match="out overlaps a"):
        fastnn.matmul(fastnn.BF16Array(bits), x, out=out, precision="bf16")
    with pytest.raises(ValueError, match="out overlaps b"):
        fastnn.matmul(x, fastnn.BF16Array(bits), out=out, precision="bf16")


def test_raw_uint16_is_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"uint16.*fastnn.BF16Array\(bits\)"):
        fastnn.matmul(np.ones((2, 2), np.uint16), np.ones((2, 2), np.float32), precision="bf16")
