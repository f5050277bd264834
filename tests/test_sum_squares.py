"""Each kernel set's sum_squares (csrc/kernels/optim_rows.h, the L2 penalty's |W|^2) against a
float64 reference, on lengths around its 128 lanes and 2048-value blocks."""
import numpy as np
import pytest

from fastnn import _core
from support import isa_selected

LENGTHS = (0, 1, 127, 128, 129, 2047, 2048, 2049, 5000)


@pytest.mark.parametrize("isa", _core.float_kernel_sets())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_squares_matches_float64_on_each_set(isa, dtype):
    rng = np.random.default_rng(5)
    with isa_selected(isa):
        for n in LENGTHS:
            # values of a wide range of sizes, so a dropped or doubled element shows
            x = (rng.standard_normal(n) * np.exp(rng.uniform(-3, 3, n))).astype(dtype)
            exact = float(np.sum(x.astype(np.float64) ** 2))
            # float partial sums of at most 2048 squares each, with a factor 4 of headroom
            bound = 4 * min(max(n, 1), 2048) * np.finfo(dtype).eps * exact
            got = _core._sum_squares(x)
            assert abs(got - exact) <= bound, (isa, np.dtype(dtype).name, n, got, exact)
