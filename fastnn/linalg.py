"""Matrix products on fastnn's GEMM, and the checks Python callers of the kernels share.

`matmul` itself is validated in the Cython shell (fastnn/_gemm.pxi): its checks cost more than a
small product.
"""
import numpy as np

from ._core import matmul

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_matrix(x, name, caller):
    """`x` as a 2-D float32/float64 ndarray, or a TypeError/ValueError naming `name`."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if x.dtype.type not in FLOAT_DTYPES:
        raise TypeError(f"{caller}: {name} must be float32 or float64, got {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{caller}: {name} must be 2-D, got {x.ndim}-D with shape {x.shape}")
    row_stride, col_stride = x.strides
    if row_stride % x.itemsize or col_stride % x.itemsize:
        x = np.ascontiguousarray(x)  # byte strides that are not whole elements cannot be packed
    return x


def check_out(out, shape, dtype, inputs, caller):
    """`out` must be a writeable ndarray of `shape` and `dtype` sharing no memory with `inputs`."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{caller}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{caller}: out has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"{caller}: out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{caller}: out is read-only")
    for name, x in inputs.items():
        if np.may_share_memory(out, x):
            raise ValueError(f"{caller}: out overlaps {name}; pass a separate array")


