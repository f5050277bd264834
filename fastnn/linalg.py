"""Matrix products on fastnn's GEMM."""
import numpy as np

from . import _core

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


def matmul(a, b, *, trans_a=False, trans_b=False, out=None):
    """op(a) @ op(b), where op transposes when `trans_a` / `trans_b` is set.

    `a` and `b` are 2-D arrays of one dtype, float32 or float64, with any strides: transposes and
    other views are packed directly, without a copy. The result is a new C-ordered array, or is
    written into `out` (which is returned); `out` must not overlap `a` or `b`.

    >>> import numpy as np, fastnn
    >>> x = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> fastnn.matmul(x, x, trans_b=True)
    array([[ 5., 14.],
           [14., 50.]], dtype=float32)
    """
    a = as_float_matrix(a, "a", "matmul")
    b = as_float_matrix(b, "b", "matmul")
    if a.dtype != b.dtype:
        raise TypeError(f"matmul: a and b must share a dtype, got {a.dtype} and {b.dtype}")
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    (m, k), (k_b, n) = op_a.shape, op_b.shape
    if k != k_b:
        raise ValueError(
            f"matmul: inner dimensions differ: op(a) is {op_a.shape} and op(b) is {op_b.shape}"
            f" (a {a.shape}, trans_a={trans_a}; b {b.shape}, trans_b={trans_b})")
    if out is None:
        return _core.gemm(op_a, op_b, np.empty((m, n), dtype=a.dtype))
    check_out(out, (m, n), a.dtype, {"a": a, "b": b}, "matmul")
    if m == 0 or n == 0:
        return out
    itemsize = out.itemsize
    if out.strides[1] == itemsize and out.strides[0] % itemsize == 0:
        _core.gemm(op_a, op_b, out)
    elif out.strides[0] == itemsize and out.strides[1] % itemsize == 0:
        _core.gemm(op_b.T, op_a.T, out.T)  # a column-major out: C^T = op(b)^T op(a)^T
    else:
        out[...] = _core.gemm(op_a, op_b, np.empty((m, n), dtype=a.dtype))
    return out
