"""Products whose row-major B the micro-kernel packs as it runs (gemm_loop_nest.h:
packs_b_in_kernel; the AVX-512 set's sgemm_avx512_8x32_packing_b) give the bits of the same
product with B packed in a pass of its own: the same panels, the same kernel arithmetic. The
reference is B as a view with column stride 2, which no kernel packs (nor reads in place), so a
wrong row, share or panel of the in-kernel packing changes the product. Shapes around the path's
limits: 4 tiles of rows (32 on AVX-512) and up to 512 rows, panels of NC / 2 = 256 columns ending
in a partial or half-width micro-panel, k around the path's least depth and k tails, B's rows
further apart than n, beta != 0, the epilogue of the first tiles, one and two threads. On kernel
sets without the packing kernel the same products run the other path and must agree too."""
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import _core

sys.path.insert(0, str(Path(__file__).parent))
from gemm_sweep import error_bound, reference  # noqa: E402

# (m, n, k, B's row stride). B is read in place instead up to 32 rows, up to 64 unless its rows
# are 4 KiB apart, and where it has at most 16 KiB (gemm.c), and the path takes passes over k of
# 32 or more: 32 rows are not taken, 33-96 with rows 1024 floats apart; 256 = a panel of 8
# micro-panels; 331 = a panel of 256 and one of 2 whole micro-panels and 11 columns, 336 the
# same ending in a half-width one; 511-513 around FETCH_NEXT_B_MAX_ROWS (513 not taken); k = 10
# (not taken), 32, 33 and 35 (shares of 8 and 9, steps left after the kernel's loop), 257 (two
# passes of 129 and 128)
SHAPES = [(32, 1024, 40, 1024), (33, 331, 33, 1024), (40, 336, 257, 1024), (64, 1024, 64, 1024),
          (72, 4100, 32, 4100), (96, 1024, 35, 1024), (256, 1024, 10, 1024), (256, 336, 257, 336),
          (256, 336, 33, 400), (511, 331, 40, 331), (512, 256, 129, 256), (513, 331, 40, 331)]


def column_stride_two(b):
    """b's values as a view with column stride 2 (packed by the nest's plain loop)."""
    big = np.full((b.shape[0], 2 * b.shape[1]), np.nan, b.dtype)
    big[:, ::2] = b
    return big[:, ::2]


def with_row_stride(b, ld):
    """b's values in a view whose rows are ld apart (a slice of a wider array)."""
    big = np.full((b.shape[0], ld), np.nan, b.dtype)
    big[:, :b.shape[1]] = b
    return big[:, :b.shape[1]]


@pytest.fixture
def one_thread():
    fastnn.set_num_threads(1)
    yield
    fastnn.set_num_threads(None)


@pytest.mark.parametrize("m, n, k, ld", SHAPES)
def test_products_equal_those_with_b_packed_apart_bit_for_bit(m, n, k, ld, one_thread):
    rng = np.random.default_rng(m * 7 + n + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    source = with_row_stride(b, ld)
    got = fastnn.matmul(a, source)
    np.testing.assert_array_equal(got, fastnn.matmul(a, column_stride_two(b)))
    assert (np.abs(got - reference(a, b, False, False))
            <= error_bound(a, b, False, False, np.float32)).all()
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    got, expected = c0.copy(), c0.copy()
    _core.gemm(a, source, got, alpha=0.5, beta=-1.5)
    _core.gemm(a, column_stride_two(b), expected, alpha=0.5, beta=-1.5)
    np.testing.assert_array_equal(got, expected, err_msg="beta != 0")


@pytest.mark.parametrize("m, n, k, ld", [(40, 336, 257, 1024), (256, 331, 40, 331)])
def test_the_epilogue_of_the_first_tiles_is_applied_once(m, n, k, ld, one_thread):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = with_row_stride(rng.standard_normal((k, n)).astype(np.float32), ld)
    bias = rng.standard_normal(n).astype(np.float32)
    relu = _core.ACTIVATIONS["relu"]
    outputs = []
    for source in (b, column_stride_two(b)):
        y = np.full((m, n), np.nan, np.float32)
        pre = np.full((m, n), np.nan, np.float32)
        _core.gemm(a, source, y, bias=bias, activation=relu, pre_activation=pre)
        outputs.append((y, pre))
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
    s = reference(a, b, False, False) + bias
    assert (np.abs(outputs[0][1] - s) <= error_bound(a, b, False, False, np.float32) + 1e-6).all()


def test_one_and_two_threads_give_identical_bits():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((256, 300)).astype(np.float32)
    b = rng.standard_normal((300, 1024 + 16)).astype(np.float32)
    try:
        fastnn.set_num_threads(1)
        one = fastnn.matmul(a, b)
        fastnn.set_num_threads(2)
        two = fastnn.matmul(a, b)
    finally:
        fastnn.set_num_threads(None)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, fastnn.matmul(a, column_stride_two(b)))
