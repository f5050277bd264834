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
