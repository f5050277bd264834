"""The convolution's extra memory as the benchmark reports it (_core.conv_buffer_bytes) against
what a call leaves its thread holding, on each kernel set (their tiles differ) and each path:
the forward by rows or by window blocks, the weight gradient by rows or by column windows, the
input gradient by the transposed forward or by col2im, and the 1x1 convolution that reads its
input as the column matrix."""
import numpy as np
import pytest

import fastnn
from fastnn import _core
from fastnn import functional as F
from fastnn.functional_conv import conv_output_shape
from support import isa_selected

CASES = {
    # x shape, w shape, stride, padding
    "by rows, dW by rows, dX transposed": ((2, 32, 8, 32), (16, 32, 3, 3), 1, 1),
    "strided: window blocks, col2im": ((2, 3, 9, 9), (4, 3, 3, 3), 3, 0),
    "LeNet's conv2 (valid 5x5)": ((2, 6, 14, 14), (16, 6, 5, 5), 1, 0),
    "same 3x3 on narrow rows: the ISA gather": ((2, 4, 7, 7), (5, 4, 3, 3), 1, 1),
    "1x1 reads its input": ((2, 8, 5, 7), (4, 8, 1, 1), 1, 0),
}


@pytest.fixture
def one_thread():
    before = fastnn.get_num_threads()
    fastnn.set_num_threads(1)
    yield
    fastnn.set_num_threads(before)


@pytest.mark.parametrize("isa", _core.float_kernel_sets())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CASES)
def test_reported_buffer_bytes_are_what_a_call_holds(name, dtype, isa, one_thread):
    x_shape, w_shape, stride, padding = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    shape, geometry = conv_output_shape(x_shape, w_shape, stride, padding)
    itemsize = np.dtype(dtype).itemsize

    with isa_selected(isa):
        _core.conv_release_buffers()
        y = F.conv2d(x, w, stride=stride, padding=padding)
        assert _core.conv_held_bytes() == _core.conv_buffer_bytes(geometry, itemsize, False)

        _core.conv_release_buffers()
        F.conv2d_backward(np.ones_like(y), x, w, stride=stride, padding=padding)
        assert _core.conv_held_bytes() == _core.conv_buffer_bytes(geometry, itemsize, True)
        _core.conv_release_buffers()
