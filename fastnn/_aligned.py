"""Arrays whose data starts on a cache line (64 bytes, one AVX-512 vector).

numpy aligns its data to 16 bytes, so a weight and its optimizer state each start at some offset
within a cache line. The batch-1 step streams both with full-width vector loads and stores; a
store that straddles two lines costs two, and with the weight and its momentum at different
offsets no peeling aligns both (measured on the 784-1024-1024-10 weights, one Zen 5 core: the
one-pass update of the 1024 x 1024 layer took 145-180 us misaligned against 94 us aligned).
Parameters (every layer makes them with `Parameter.allocate`), their gradients, flat buffers
and optimizer state are made with these, and a pickled or copied parameter and loaded optimizer
state are copied back onto a cache line. An array a user binds (`Parameter(array)`,
`p.data = array`) is used as it is: only its speed, not its values, depends on where it starts.

    >>> a = zeros((3, 5), np.float32)
    >>> a.ctypes.data % 64, a.shape, float(a.sum())
    (0, (3, 5), 0.0)
"""
import numpy as np

from ._core import CACHE_LINE_BYTES as CACHE_LINE  # the C side's one declaration (plan.h)


def empty(shape, dtype):
    """np.empty(shape, dtype), C-contiguous, its data starting on a cache line."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(count * dtype.itemsize + CACHE_LINE, np.uint8)
    skip = -raw.ctypes.data % CACHE_LINE
    return raw[skip:skip + count * dtype.itemsize].view(dtype).reshape(shape)


def zeros(shape, dtype):
    """np.zeros(shape, dtype), C-contiguous, its data starting on a cache line."""
    array = empty(shape, dtype)
    array.fill(0)
    return array


def zeros_like(array):
    """zeros of array's shape and dtype, starting on a cache line."""
    return zeros(array.shape, array.dtype)


def full(shape, fill_value, dtype):
    """np.full(shape, fill_value, dtype), C-contiguous, its data starting on a cache line;
    fill_value may be an array broadcasting to shape (its values are copied)."""
    array = empty(shape, dtype)
    array[...] = fill_value
    return array


def on_cache_line(array):
    """array itself when it is C-contiguous and starts on a cache line, else such a copy."""
    if array.flags.c_contiguous and array.ctypes.data % CACHE_LINE == 0:
        return array
    return full(array.shape, array, array.dtype)
