"""Products of a few tile rows, where the GEMM reads a row-major B in place rather than packing
it (up to 8 register tiles of rows when B's rows are not 4 KiB apart, gemm.c): against float64,
and bit for bit against the packed path the same B takes when its rows are 4 KiB apart."""
import numpy as np
import pytest

import fastnn
from fastnn import _core


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tiles", [4.1, 5, 7.5, 8, 8.1, 12])
def test_rows_past_four_tiles_read_b_in_place(isa, dtype, tiles):
    """4 to 8 tiles of rows read B in place; 8.1 and 12 pack it (the same numbers)."""
    m = int(tiles * _core.kernel_blocking()[np.dtype(dtype).name]["mr"])
    rng = np.random.default_rng(m)
    k, n = 70, 256
    a = rng.standard_normal((m, k)).astype(dtype)
    aliased_width = 4096 // np.dtype(dtype).itemsize  # rows 4 KiB apart: packed
    wide = rng.standard_normal((k, aliased_width)).astype(dtype)
    packed_b = wide[:, :n]
    in_place_b = np.ascontiguousarray(packed_b)  # rows 1 or 2 KiB apart: read in place
    padded = np.zeros((k, n + 37), dtype)  # an odd row stride, in place too
    padded[:, :n] = packed_b
    in_place = fastnn.matmul(a, in_place_b)
    reference = a.astype(np.float64) @ packed_b.astype(np.float64)
    bound = 4 * k * np.finfo(dtype).eps * (np.abs(a).astype(np.float64) @ np.abs(packed_b).astype(np.float64))
    assert np.all(np.abs(in_place - reference) <= bound)
    np.testing.assert_array_equal(in_place, fastnn.matmul(a, packed_b))
    np.testing.assert_array_equal(in_place, fastnn.matmul(a, padded[:, :n]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("tiles, n, k", [(1, 256, 64), (8, 256, 70), (3, 45, 300), (32, 512, 9), (2, 513, 33)])
def test_a_read_in_place_equals_packed(isa, dtype, trans_a, tiles, n, k):
    """Whole tiles of rows against one panel of B read A where it lies (row-major or transposed):
    the numbers of the packed path, which the same A takes when its lines are 4 KiB apart; n past
    one panel (513) packs A, with edge columns in both."""
    blocking = _core.kernel_blocking()[np.dtype(dtype).name]
    m = tiles * blocking["mr"]
    rng = np.random.default_rng(m + n + k)
    aliased_width = 4096 // np.dtype(dtype).itemsize
    rows, cols = (k, m) if trans_a else (m, k)
    wide = np.zeros((rows, max(aliased_width, cols)), dtype)
    wide[:, :cols] = rng.standard_normal((rows, cols))
    packed_a = wide[:, :cols]
    in_place_a = np.ascontiguousarray(packed_a)
    b = rng.standard_normal((k, n)).astype(dtype)
    c0 = rng.standard_normal((m, n)).astype(dtype)
    in_place = fastnn.matmul(in_place_a, b, trans_a=trans_a)
    op_a = (packed_a.T if trans_a else packed_a).astype(np.float64)
    reference = op_a @ b.astype(np.float64)
    bound = 4 * k * np.finfo(dtype).eps * (np.abs(op_a) @ np.abs(b).astype(np.float64))
    assert np.all(np.abs(in_place - reference) <= bound)
    np.testing.assert_array_equal(in_place, fastnn.matmul(packed_a, b, trans_a=trans_a))
    # beta: C = 0.5 A B + 2 C, on both paths
    accumulated = [_core.gemm(a.T if trans_a else a, b, c0.copy(), 0.5, 2.0) for a in (in_place_a, packed_a)]
    np.testing.assert_array_equal(accumulated[0], accumulated[1])
