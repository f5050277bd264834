# The sparse-input shell (csrc/sparse.h): X in CSR form (data, indices, indptr, as scipy holds
# them) times a dense weight. Every index is checked here before C reads through it.
from libc.stdint cimport int32_t, int64_t

cdef extern from "sparse.h" nogil:
    void fastnn_csr_linear_f32_i32(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *, const int32_t *,
                                   const int32_t *, const float *, ptrdiff_t, const float *,
                                   float *, ptrdiff_t)
    void fastnn_csr_linear_f32_i64(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *, const int64_t *,
                                   const int64_t *, const float *, ptrdiff_t, const float *,
                                   float *, ptrdiff_t)
    void fastnn_csr_linear_f64_i32(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *, const int32_t *,
                                   const int32_t *, const double *, ptrdiff_t, const double *,
                                   double *, ptrdiff_t)
    void fastnn_csr_linear_f64_i64(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *, const int64_t *,
                                   const int64_t *, const double *, ptrdiff_t, const double *,
                                   double *, ptrdiff_t)
    void fastnn_csr_weight_grad_f32_i32(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *,
                                        const int32_t *, const int32_t *, const float *, ptrdiff_t,
                                        float *, ptrdiff_t, int)
    void fastnn_csr_weight_grad_f32_i64(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *,
                                        const int64_t *, const int64_t *, const float *, ptrdiff_t,
                                        float *, ptrdiff_t, int)
    void fastnn_csr_weight_grad_f64_i32(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *,
                                        const int32_t *, const int32_t *, const double *, ptrdiff_t,
                                        double *, ptrdiff_t, int)
    void fastnn_csr_weight_grad_f64_i64(ptrdiff_t, ptrdiff_t, ptrdiff_t, const double *,
                                        const int64_t *, const int64_t *, const double *, ptrdiff_t,
                                        double *, ptrdiff_t, int)


def _checked_csr(data, indices, indptr, Py_ssize_t n_rows, Py_ssize_t n_cols, dtype, str caller):
    """(data, indices, indptr) as C reads them: contiguous, data of `dtype`, both index arrays
    of one type (int32 or int64), indptr (n_rows + 1,) non-decreasing from 0 within data, every
    column index in [0, n_cols). ValueError/TypeError naming what is wrong otherwise."""
    data, indices, indptr = np.asarray(data), np.asarray(indices), np.asarray(indptr)
    if data.dtype != dtype:
        raise TypeError(f"{caller}: the sparse values have dtype {data.dtype}, the weight {dtype}")
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise TypeError(f"{caller}: CSR indices must be integers, got {indices.dtype} and {indptr.dtype}")
    index_type = np.int32 if indices.dtype == np.int32 and indptr.dtype == np.int32 else np.int64
    indices = np.require(indices, index_type, ("C_CONTIGUOUS", "ALIGNED"))
    indptr = np.require(indptr, index_type, ("C_CONTIGUOUS", "ALIGNED"))
    data = np.require(data, dtype, ("C_CONTIGUOUS", "ALIGNED"))
    if data.ndim != 1 or indices.shape != data.shape or indptr.shape != (n_rows + 1,):
        raise ValueError(f"{caller}: a CSR matrix of {n_rows} rows needs data and indices of one "
                         f"length and indptr of {n_rows + 1}, got {data.shape}, {indices.shape}, "
                         f"{indptr.shape}")
    if indptr[0] != 0 or indptr[n_rows] > data.shape[0] or np.any(indptr[1:] < indptr[:n_rows]):
        raise ValueError(f"{caller}: CSR indptr must rise from 0 to at most {data.shape[0]}")
    used = indices[:indptr[n_rows]]
    if used.size and (used.min() < 0 or used.max() >= n_cols):
        raise ValueError(f"{caller}: CSR column indices must lie in [0, {n_cols})")
    return data, indices, indptr


cdef int _check_rows_out(cnp.ndarray out, Py_ssize_t rows, Py_ssize_t cols, dtype, str name,
                         str caller) except -1:
    if (out.dtype != dtype or out.ndim != 2 or out.shape[0] != rows or out.shape[1] != cols
            or not cnp.PyArray_ISWRITEABLE(out)
            or (rows > 0 and cols > 1 and out.strides[1] != out.itemsize)
            or out.strides[0] % out.itemsize):
        raise ValueError(f"{caller}: {name} must be a writeable ({rows}, {cols}) {dtype} array "
                         f"with contiguous rows, got {(<object>out).shape} {out.dtype}")
    _check_aligned(out, f"{caller}: {name}")
    return 0


def csr_linear(data, indices, indptr, cnp.ndarray weight, bias, cnp.ndarray out):
    """out = X · weightᵀ (+ bias) for X in CSR form with out.shape[0] rows and weight.shape[1]
    columns; weight (out_features, n_cols) with contiguous rows. Returns out."""
    caller = "csr_linear"
    if weight.ndim != 2 or weight.dtype not in (np.float32, np.float64) or (
            weight.shape[0] > 0 and weight.shape[1] > 1 and weight.strides[1] != weight.itemsize):
        raise ValueError(f"{caller}: weight must be a 2-D float array with contiguous rows")
    _check_aligned(weight, f"{caller}: weight")
    cdef Py_ssize_t n_rows = out.shape[0], out_features = weight.shape[0], n_cols = weight.shape[1]
    _check_rows_out(out, n_rows, out_features, weight.dtype, "out", caller)
    data, indices, indptr = _checked_csr(data, indices, indptr, n_rows, weight.shape[1],
                                         weight.dtype, caller)
    cdef cnp.ndarray b = None
    if bias is not None:
        b = np.require(bias, weight.dtype, ("C_CONTIGUOUS", "ALIGNED"))
        if b.ndim != 1 or b.shape[0] != out_features:
            raise ValueError(f"{caller}: bias must be ({out_features},), got {(<object>b).shape}")
    cdef cnp.ndarray d = data, ix = indices, ip = indptr
    cdef void *pd = cnp.PyArray_DATA(d)
    cdef void *pix = cnp.PyArray_DATA(ix)
    cdef void *pip = cnp.PyArray_DATA(ip)
    cdef void *pw = cnp.PyArray_DATA(weight)
    cdef void *pb = NULL if b is None else cnp.PyArray_DATA(b)
    cdef void *po = cnp.PyArray_DATA(out)
    cdef ptrdiff_t ldw = weight.strides[0] // weight.itemsize
    cdef ptrdiff_t ldo = out.strides[0] // out.itemsize
    cdef bint double_precision = weight.dtype == np.float64
    cdef bint wide = ix.dtype == np.int64
    with nogil:
        if double_precision and wide:
            fastnn_csr_linear_f64_i64(n_rows, n_cols, out_features, <const double *>pd, <const int64_t *>pix,
                                      <const int64_t *>pip, <const double *>pw, ldw,
                                      <const double *>pb, <double *>po, ldo)
        elif double_precision:
            fastnn_csr_linear_f64_i32(n_rows, n_cols, out_features, <const double *>pd, <const int32_t *>pix,
                                      <const int32_t *>pip, <const double *>pw, ldw,
                                      <const double *>pb, <double *>po, ldo)
        elif wide:
            fastnn_csr_linear_f32_i64(n_rows, n_cols, out_features, <const float *>pd, <const int64_t *>pix,
                                      <const int64_t *>pip, <const float *>pw, ldw,
                                      <const float *>pb, <float *>po, ldo)
        else:
            fastnn_csr_linear_f32_i32(n_rows, n_cols, out_features, <const float *>pd, <const int32_t *>pix,
                                      <const int32_t *>pip, <const float *>pw, ldw,
                                      <const float *>pb, <float *>po, ldo)
    return out


def csr_weight_grad(data, indices, indptr, cnp.ndarray grad, cnp.ndarray weight_grad,
                    bint accumulate):
    """weight_grad (+)= gradᵀ · X for X in CSR form with grad.shape[0] rows and
    weight_grad.shape[1] columns; grad (n_rows, out_features). Returns weight_grad."""
    caller = "csr_weight_grad"
    if grad.ndim != 2 or grad.dtype not in (np.float32, np.float64):
        raise ValueError(f"{caller}: grad must be a 2-D float array")
    if grad.shape[0] > 0 and grad.shape[1] > 1 and grad.strides[1] != grad.itemsize:
        raise ValueError(f"{caller}: grad needs contiguous rows")
    _check_aligned(grad, f"{caller}: grad")
    cdef Py_ssize_t n_rows = grad.shape[0], out_features = grad.shape[1]
    if weight_grad.ndim != 2:
        raise ValueError(f"{caller}: weight_grad must be 2-D")
    cdef Py_ssize_t n_cols = weight_grad.shape[1]
    _check_rows_out(weight_grad, out_features, n_cols, grad.dtype, "weight_grad", caller)
    data, indices, indptr = _checked_csr(data, indices, indptr, n_rows, n_cols, grad.dtype, caller)
    cdef cnp.ndarray d = data, ix = indices, ip = indptr
    cdef void *pd = cnp.PyArray_DATA(d)
    cdef void *pix = cnp.PyArray_DATA(ix)
    cdef void *pip = cnp.PyArray_DATA(ip)
    cdef void *pg = cnp.PyArray_DATA(grad)
    cdef void *pw = cnp.PyArray_DATA(weight_grad)
    cdef ptrdiff_t lds = grad.strides[0] // grad.itemsize
    cdef ptrdiff_t ldw = weight_grad.strides[0] // weight_grad.itemsize
    cdef bint double_precision = grad.dtype == np.float64
    cdef bint wide = ix.dtype == np.int64
    with nogil:
        if double_precision and wide:
            fastnn_csr_weight_grad_f64_i64(n_rows, n_cols, out_features, <const double *>pd,
                                           <const int64_t *>pix, <const int64_t *>pip,
                                           <const double *>pg, lds, <double *>pw, ldw, accumulate)
        elif double_precision:
            fastnn_csr_weight_grad_f64_i32(n_rows, n_cols, out_features, <const double *>pd,
                                           <const int32_t *>pix, <const int32_t *>pip,
                                           <const double *>pg, lds, <double *>pw, ldw, accumulate)
        elif wide:
            fastnn_csr_weight_grad_f32_i64(n_rows, n_cols, out_features, <const float *>pd,
                                           <const int64_t *>pix, <const int64_t *>pip,
                                           <const float *>pg, lds, <float *>pw, ldw, accumulate)
        else:
            fastnn_csr_weight_grad_f32_i32(n_rows, n_cols, out_features, <const float *>pd,
                                           <const int32_t *>pix, <const int32_t *>pip,
                                           <const float *>pg, lds, <float *>pw, ldw, accumulate)
    return weight_grad
