# The GEMM shell (csrc/gemm.h, csrc/dispatch.h). Internal: fastnn.linalg and the layers validate
# before calling; here we only check what would make C read or write out of bounds.
from libc.stddef cimport ptrdiff_t

cdef extern from "activation_table.h" nogil:
    ctypedef struct fastnn_activation_spec:
        int kind
        double a, b
    ctypedef struct fastnn_activation_info:
        const char *name
        int derivative_from_input
        const char *param_a
        double default_a
        const char *param_b
        double default_b
    int FASTNN_ACT_COUNT
    const fastnn_activation_info fastnn_activation_table[]

cdef extern from "gemm.h" nogil:
    ctypedef struct fastnn_epilogue:
        pass
    void fastnn_epilogue_init(fastnn_epilogue *epilogue, int is_double, const void *bias,
                              fastnn_activation_spec activation, void *pre_activation, ptrdiff_t ld_pre)
    int fastnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                      const float *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                      const float *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                      float beta, float *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)
    int fastnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                      const double *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                      const double *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                      double beta, double *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)
    int fastnn_sgemm_bf16(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                          const float *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                          const float *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                          float beta, float *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)
    int fastnn_sgemm_bf16_stored(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                                 const void *a, int a_is_bf16, ptrdiff_t rs_a, ptrdiff_t cs_a,
                                 const void *b, int b_is_bf16, ptrdiff_t rs_b, ptrdiff_t cs_b,
                                 float beta, float *c, ptrdiff_t ldc,
                                 const fastnn_epilogue *epilogue)

cdef extern from "dispatch.h" nogil:
    ctypedef struct fastnn_cpu_features:
        char vendor[13]
        char brand[49]
        int sse2, avx, fma, avx2
        int avx512f, avx512bw, avx512dq, avx512vl, avx512_bf16
        int os_saves_avx, os_saves_avx512
    const fastnn_cpu_features *fastnn_cpu()
    int fastnn_isa_supported(const char *isa)
    int fastnn_select_isa(const char *isa)
    const char *fastnn_isa_name()
    const char *fastnn_isa_name_at(int i)
    const char *fastnn_isa_float_kernels_of(const char *isa)
    int fastnn_get_num_threads()
    void fastnn_set_num_threads(int n)
    int fastnn_has_openmp()

def _read_activation_table():
    rows = []
    for code in range(FASTNN_ACT_COUNT):
        info = fastnn_activation_table[code]
        params = tuple((name.decode(), default)
                       for name, default in ((info.param_a, info.default_a), (info.param_b, info.default_b))
                       if name[0] != 0)
        rows.append({"name": info.name.decode(), "code": code,
                     "derivative_from_input": bool(info.derivative_from_input), "params": params})
    return tuple(rows)


# The activation table of csrc/activation_table.h, as C compiled it: per activation its name, code,
# whether its derivative reads the input (else the output), and its parameters with defaults.
ACTIVATION_TABLE = _read_activation_table()
ACTIVATIONS = {row["name"]: row["code"] for row in ACTIVATION_TABLE}


cdef fastnn_activation_spec _activation_spec(object activation) except *:
    """An activation for C from a code (the table's default parameters) or (code, a, b)."""
    cdef fastnn_activation_spec spec
    cdef tuple params
    if type(activation) is tuple:
        spec.kind, spec.a, spec.b = activation
    else:
        spec.kind = activation
        params = ACTIVATION_TABLE[spec.kind]["params"] if 0 <= spec.kind < FASTNN_ACT_COUNT else ()
        spec.a = params[0][1] if len(params) > 0 else 0
        spec.b = params[1][1] if len(params) > 1 else 0
    if not 0 <= spec.kind < FASTNN_ACT_COUNT:
        raise ValueError(f"unknown activation code {spec.kind}")
    return spec


cdef ptrdiff_t _element_stride(cnp.ndarray x, int axis) except? -1:
    cdef ptrdiff_t stride = x.strides[axis]
    if stride % x.itemsize:
        raise ValueError("strides must be whole elements")
    return stride // x.itemsize


cdef object _dtype_name(object x):
    return x.dtype.name if isinstance(x, cnp.ndarray) else type(x).__name__


cdef cnp.ndarray _float_matrix(object x, str name):
    """x as a 2-D float32/float64 array whose strides are whole elements (matmul's checks)."""
    cdef cnp.ndarray arr = x if type(x) is cnp.ndarray else np.asarray(x)
    cdef int type_num = cnp.PyArray_TYPE(arr)
    if type_num != cnp.NPY_FLOAT32 and type_num != cnp.NPY_FLOAT64:
        hint = (" (bf16 bit patterns: wrap them as fastnn.BF16Array(bits))"
                if type_num == cnp.NPY_UINT16 else "")
        raise TypeError(f"matmul: {name} must be float32 or float64, got {arr.dtype}{hint}")
    if cnp.PyArray_NDIM(arr) != 2:
        raise ValueError(f"matmul: {name} must be 2-D, got {arr.ndim}-D with shape {(<object>arr).shape}")
    if arr.strides[0] % arr.itemsize or arr.strides[1] % arr.itemsize or not cnp.PyArray_ISALIGNED(arr):
        arr = arr.copy()  # misaligned data, or byte strides that are not whole elements, cannot be packed
    return arr


cdef object _BF16Array = None  # fastnn.bf16.BF16Array, imported on first need


cdef object _bf16_bits(object x):
    """Where x is stored in bf16 -- a fastnn.BF16Array, or a numpy array of
    ml_dtypes.bfloat16 (recognised by its dtype's name and size, so that fastnn neither imports
    nor needs ml_dtypes) -- its values' bit patterns as a uint16 view of the same memory;
    else None."""
    global _BF16Array
    if isinstance(x, cnp.ndarray):
        # the size first, in C: a float operand pays no more than that
        if cnp.PyArray_ITEMSIZE(<cnp.ndarray>x) == 2 and x.dtype.name == "bfloat16":
            return x.view(np.uint16)
        return None
    if _BF16Array is None:
        from fastnn.bf16 import BF16Array
        _BF16Array = BF16Array
    if isinstance(x, _BF16Array):
        return x.bits
    return None


cdef cnp.ndarray _bf16_matrix(cnp.ndarray bits, str name):
    """bf16 bit patterns as a 2-D uint16 array whose strides are whole elements."""
    if cnp.PyArray_NDIM(bits) != 2:
        raise ValueError(f"matmul: {name} must be 2-D, got {bits.ndim}-D with shape "
                         f"{(<object>bits).shape}")
    if bits.strides[0] % 2 or bits.strides[1] % 2 or not cnp.PyArray_ISALIGNED(bits):
        bits = bits.copy()
    return bits


cdef bint _may_overlap(cnp.ndarray x, cnp.ndarray y):
    """Whether the memory spans of x and y intersect (np.may_share_memory's bound test)."""
    cdef char *x_lo = <char *>cnp.PyArray_DATA(x)
    cdef char *x_hi = x_lo
    cdef char *y_lo = <char *>cnp.PyArray_DATA(y)
    cdef char *y_hi = y_lo
    cdef int d
    if x.size == 0 or y.size == 0:
        return False
    for d in range(x.ndim):
        if x.strides[d] > 0: x_hi += x.strides[d] * (x.shape[d] - 1)
        else: x_lo += x.strides[d] * (x.shape[d] - 1)
    for d in range(y.ndim):
        if y.strides[d] > 0: y_hi += y.strides[d] * (y.shape[d] - 1)
        else: y_lo += y.strides[d] * (y.shape[d] - 1)
    return x_lo < y_hi + cnp.PyArray_ITEMSIZE(y) and y_lo < x_hi + cnp.PyArray_ITEMSIZE(x)


PRECISIONS = ("fp32", "bf16")
cdef str _FP32 = PRECISIONS[0]


cpdef bint precision_is_bf16(object precision, object dtype, str caller) except -1:
    """Whether `precision` asks for bf16 products on arrays of `dtype`; a ValueError naming the
    argument when it is not one of PRECISIONS or does not suit the dtype."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"{caller}: precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return False
    if dtype != np.float32:
        raise ValueError(f"{caller}: precision='bf16' takes float32 arrays (bf16 products "
                         f"accumulate in float32), got {dtype}")
    return True


def matmul(a, b, *, bint trans_a=False, bint trans_b=False, out=None, precision=_FP32):
    """op(a) @ op(b), where op transposes when `trans_a` / `trans_b` is set.

    `a` and `b` are 2-D arrays of one dtype, float32 or float64, with any strides: transposes and
    other views are packed directly, without a copy. The result is a new C-ordered array, or is
    written into `out` (which is returned); `out` must not overlap `a` or `b`.

    `precision="bf16"` (float32 arrays only) rounds a and b to bfloat16 (nearest even) and
    accumulates in float32: on CPUs with AVX512-BF16 twice float32's arithmetic rate; elsewhere
    the same numbers (up to the order of the sums) from the float32 kernels. The default "fp32"
    computes in the arrays' own precision.

    With `precision="bf16"`, either operand (or both) may be stored in bf16 already -- a numpy
    array of `ml_dtypes.bfloat16` (as jax uses; ml_dtypes is not needed by fastnn) or a
    `fastnn.BF16Array` (`fastnn.to_bf16(x)`) -- and is then read as it is, at half the bytes of
    float32, with the same result as the float32 array that rounds to those values. The result
    (and `out`) stays float32. A bf16 operand with precision="fp32" is an error.

    >>> import numpy as np, fastnn
    >>> x = np.arange(6, dtype=np.float32).reshape(2, 3)
    >>> fastnn.matmul(x, x, trans_b=True)
    array([[ 5., 14.],
           [14., 50.]], dtype=float32)
    >>> fastnn.matmul(x + 1/3, x, trans_b=True, precision="bf16")  # 1/3 kept to 8 bits
    array([[ 5.9921875, 17.986328 ],
           [15.03125  , 54.078125 ]], dtype=float32)
    """
    # Validation lives here rather than in Python because it is most of the cost of a small
    # product: a 64 x 64 product takes about 5 microseconds.
    cdef object a_bits = _bf16_bits(a), b_bits = _bf16_bits(b)
    cdef bint a_bf16 = a_bits is not None, b_bf16 = b_bits is not None
    cdef cnp.ndarray A, B
    cdef bint bf16
    if a_bf16 or b_bf16:
        A, B = _bf16_operands(a, a_bits, b, b_bits, precision)
        bf16 = True
    else:
        A, B = _float_matrix(a, "a"), _float_matrix(b, "b")
        if cnp.PyArray_TYPE(A) != cnp.PyArray_TYPE(B):
            raise TypeError(f"matmul: a and b must share a dtype, got {A.dtype} and {B.dtype}")
        # the default's own object first: the full check costs as much as a 16 x 16 product
        bf16 = precision is not _FP32 and precision_is_bf16(precision, A.dtype, "matmul")
    cdef int out_type = cnp.NPY_FLOAT32 if a_bf16 or b_bf16 else cnp.PyArray_TYPE(A)
    cdef cnp.ndarray op_a = A.T if trans_a else A
    cdef cnp.ndarray op_b = B.T if trans_b else B
    cdef ptrdiff_t m = op_a.shape[0], k = op_a.shape[1], n = op_b.shape[1]
    if op_b.shape[0] != k:
        raise ValueError(
            f"matmul: inner dimensions differ: op(a) is {(<object>op_a).shape} and op(b) is "
            f"{(<object>op_b).shape} (a {(<object>A).shape}, trans_a={trans_a}; "
            f"b {(<object>B).shape}, trans_b={trans_b})")
    if out is None:
        return _gemm_any(op_a, a_bf16, op_b, b_bf16, cnp.PyArray_EMPTY(2, [m, n], out_type, 0),
                         bf16)
    if not isinstance(out, cnp.ndarray):
        raise TypeError(f"matmul: out must be a numpy.ndarray, got {type(out).__name__}")
    cdef cnp.ndarray C = out
    if C.ndim != 2 or C.shape[0] != m or C.shape[1] != n:
        raise ValueError(f"matmul: out has shape {out.shape}, expected {(m, n)}")
    if cnp.PyArray_TYPE(C) != out_type:
        raise TypeError(f"matmul: out has dtype {out.dtype}, expected "
                        f"{np.dtype(np.float32) if out_type == cnp.NPY_FLOAT32 else A.dtype}")
    if not C.flags.writeable:
        raise ValueError("matmul: out is read-only")
    if _may_overlap(C, A):
        raise ValueError("matmul: out overlaps a; pass a separate array")
    if _may_overlap(C, B):
        raise ValueError("matmul: out overlaps b; pass a separate array")
    if m == 0 or n == 0:
        return out
    cdef ptrdiff_t itemsize = C.itemsize
    if C.strides[1] == itemsize and C.strides[0] % itemsize == 0 and cnp.PyArray_ISALIGNED(C):
        _gemm_any(op_a, a_bf16, op_b, b_bf16, C, bf16)
    elif C.strides[0] == itemsize and C.strides[1] % itemsize == 0 and cnp.PyArray_ISALIGNED(C):
        # a column-major out: C^T = op(b)^T op(a)^T
        _gemm_any(op_b.T, b_bf16, op_a.T, a_bf16, C.T, bf16)
    else:
        C[...] = _gemm_any(op_a, a_bf16, op_b, b_bf16,
                           cnp.PyArray_EMPTY(2, [m, n], out_type, 0), bf16)
    return out


cdef inline void _raise_for_gemm_status(int status, str caller) except *:
    """The exception a GEMM's status stands for, if any: an interrupt that arrived while it ran,
    or a packing buffer it could not allocate."""
    if status == FASTNN_UNITS_INTERRUPTED:
        _raise_pending()
    if status != 0:
        raise MemoryError(f"{caller}: could not allocate the packing buffers")


cdef tuple _bf16_operands(object a, object a_bits, object b, object b_bits, object precision):
    """matmul's operands where one or both are stored in bf16: the bf16 ones as uint16 bit
    patterns, a float32 one as it is; errors name the argument."""
    if not precision_is_bf16(precision, np.float32, "matmul"):
        stored = "a" if a_bits is not None else "b"
        raise ValueError(f"matmul: {stored} is stored in bfloat16, which needs precision='bf16' "
                         f"(bf16 products accumulated in float32), got precision={precision!r}")
    cdef list matrices = []
    for name, x, bits in (("a", a, a_bits), ("b", b, b_bits)):
        if bits is not None:
            matrices.append(_bf16_matrix(bits, name))
            continue
        arr = _float_matrix(x, name)
        if cnp.PyArray_TYPE(arr) != cnp.NPY_FLOAT32:
            raise TypeError(f"matmul: with a bfloat16 operand, {name} must be float32 or "
                            f"bfloat16 (bf16 products take float32 operands), got {arr.dtype}")
        matrices.append(arr)
    return tuple(matrices)


cdef cnp.ndarray _gemm_any(cnp.ndarray a, bint a_bf16, cnp.ndarray b, bint b_bf16,
                           cnp.ndarray c, bint bf16):
    """c = a @ b, each operand float (gemm) or bf16 bit patterns (a bf16 product)."""
    if not (a_bf16 or b_bf16):
        return gemm(a, b, c, bf16=bf16)
    cdef ptrdiff_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    _check_aligned(a, "matmul: a")
    _check_aligned(b, "matmul: b")
    _check_aligned(c, "matmul: out")
    cdef ptrdiff_t rs_a = _element_stride(a, 0), cs_a = _element_stride(a, 1)
    cdef ptrdiff_t rs_b = _element_stride(b, 0), cs_b = _element_stride(b, 1)
    cdef ptrdiff_t ldc = _element_stride(c, 0)
    cdef const void *pa = cnp.PyArray_DATA(a)
    cdef const void *pb = cnp.PyArray_DATA(b)
    cdef float *pc = <float *>cnp.PyArray_DATA(c)
    cdef int status
    with nogil:
        status = fastnn_sgemm_bf16_stored(m, n, k, 1, pa, a_bf16, rs_a, cs_a, pb, b_bf16, rs_b,
                                          cs_b, 0, pc, ldc, NULL)
    _raise_for_gemm_status(status, "matmul")
    return c


cpdef cnp.ndarray gemm(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, double alpha=1.0, double beta=0.0,
         cnp.ndarray bias=None, object activation=0, cnp.ndarray pre_activation=None,
         bint bf16=False):
    """c = activation(alpha * a @ b + beta * c + bias), with pre_activation receiving the value
    before the activation. a (m, k), b (k, n): any strides; c and pre_activation (m, n) with unit
    column stride; bias (n,) contiguous; all of one dtype, float32 or float64. `activation` is a
    code of ACTIVATIONS (default parameters) or (code, a, b). bf16 (float32 only): a and b
    rounded to bfloat16, the rest in float32."""
    if a is None or b is None or c is None:  # cpdef arguments cannot be declared `not None`
        raise TypeError("gemm: a, b and c must be arrays, not None")
    if cnp.PyArray_NDIM(a) != 2 or cnp.PyArray_NDIM(b) != 2 or cnp.PyArray_NDIM(c) != 2:
        raise ValueError("gemm: operands must be 2-D")
    cdef ptrdiff_t m = a.shape[0], k = a.shape[1], n = b.shape[1]
    if b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("gemm: shapes do not chain")
    cdef int type_num = cnp.PyArray_TYPE(c)
    if (type_num != cnp.NPY_FLOAT32 and type_num != cnp.NPY_FLOAT64) or \
            cnp.PyArray_TYPE(a) != type_num or cnp.PyArray_TYPE(b) != type_num:
        raise TypeError("gemm: operands must share one dtype, float32 or float64")
    if m and n and c.strides[1] != c.itemsize:
        raise ValueError("gemm: c needs unit column stride")
    cdef bint is_double = type_num == cnp.NPY_FLOAT64
    if bf16 and is_double:
        raise TypeError("gemm: bf16 products take float32 operands")
    _check_aligned(a, "gemm: a")
    _check_aligned(b, "gemm: b")
    _check_aligned(c, "gemm: c")
    cdef ptrdiff_t rs_a = _element_stride(a, 0), cs_a = _element_stride(a, 1)
    cdef ptrdiff_t rs_b = _element_stride(b, 0), cs_b = _element_stride(b, 1)
    cdef ptrdiff_t ldc = _element_stride(c, 0)
    cdef const void *bias_data = NULL
    cdef void *pre_data = NULL
    cdef ptrdiff_t ld_pre = 0
    if bias is not None:
        if cnp.PyArray_TYPE(bias) != type_num or bias.ndim != 1 or bias.shape[0] != n or not bias.flags.c_contiguous:
            raise ValueError("gemm: bias must be contiguous (n,) of c's dtype")
        _check_aligned(bias, "gemm: bias")
        bias_data = cnp.PyArray_DATA(bias)
    if pre_activation is not None:
        if (cnp.PyArray_TYPE(pre_activation) != type_num or pre_activation.ndim != 2 or pre_activation.shape[0] != m
                or pre_activation.shape[1] != n or (m and n and pre_activation.strides[1] != c.itemsize)):
            raise ValueError("gemm: pre_activation must be (m, n) of c's dtype with unit column stride")
        _check_aligned(pre_activation, "gemm: pre_activation")
        pre_data = cnp.PyArray_DATA(pre_activation)
        ld_pre = _element_stride(pre_activation, 0)
    cdef fastnn_activation_spec spec = _activation_spec(activation)
    cdef fastnn_epilogue epilogue
    cdef fastnn_epilogue *epilogue_ptr = NULL
    if bias_data != NULL or spec.kind != 0 or pre_data != NULL:
        fastnn_epilogue_init(&epilogue, is_double, bias_data, spec, pre_data, ld_pre)
        epilogue_ptr = &epilogue
    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(c)
    cdef int status
    with nogil:
        if is_double:
            status = fastnn_dgemm(m, n, k, alpha, <const double *>pa, rs_a, cs_a, <const double *>pb, rs_b,
                         cs_b, beta, <double *>pc, ldc, epilogue_ptr)
        elif bf16:
            status = fastnn_sgemm_bf16(m, n, k, <float>alpha, <const float *>pa, rs_a, cs_a,
                         <const float *>pb, rs_b, cs_b, <float>beta, <float *>pc, ldc, epilogue_ptr)
        else:
            status = fastnn_sgemm(m, n, k, <float>alpha, <const float *>pa, rs_a, cs_a, <const float *>pb,
                         rs_b, cs_b, <float>beta, <float *>pc, ldc, epilogue_ptr)
    _raise_for_gemm_status(status, "gemm")
    return c


def cpu_features():
    """The CPU's vendor, brand and the instruction-set features the dispatcher looks at."""
    cdef const fastnn_cpu_features *f = fastnn_cpu()
    return {
        "vendor": (<const char *>f.vendor).decode("ascii", "replace").strip(),
        "brand": (<const char *>f.brand).decode("ascii", "replace").strip(),
        "sse2": bool(f.sse2), "avx": bool(f.avx), "fma": bool(f.fma), "avx2": bool(f.avx2),
        "avx512f": bool(f.avx512f), "avx512bw": bool(f.avx512bw), "avx512dq": bool(f.avx512dq),
        "avx512vl": bool(f.avx512vl), "avx512_bf16": bool(f.avx512_bf16),
        "os_saves_avx": bool(f.os_saves_avx), "os_saves_avx512": bool(f.os_saves_avx512),
    }


def isa_names():
    """The kernel sets fastnn has (its registry, csrc/dispatch.c), newest first."""
    names = []
    cdef const char *name = fastnn_isa_name_at(0)
    while name != NULL:
        names.append(name.decode())
        name = fastnn_isa_name_at(len(names))
    return tuple(names)


def float_kernel_sets():
    """The registry's sets with float32 and float64 kernels of their own, newest first: a set
    built on another (avx512_bf16 on avx512, adding bf16 products) is left out, so that a test
    covers each float kernel once."""
    own = []
    for isa in isa_names():
        if fastnn_isa_float_kernels_of(isa.encode()).decode() == isa:
            own.append(isa)
    return tuple(own)


def isa_supported(str isa not None):
    """1 if this machine runs the kernels of `isa`, 0 if not, -1 for an unknown name."""
    return fastnn_isa_supported(isa.encode())


def select_isa(str isa not None):
    """Choose the kernels ('' for the best supported); raises ValueError when it cannot."""
    cdef int status = fastnn_select_isa(isa.encode())
    if status == -1:
        raise ValueError(f"FASTNN_ISA={isa!r} is not one of {', '.join(map(repr, isa_names()))}")
    if status == -2:
        raise ValueError(f"FASTNN_ISA={isa!r}: this CPU or OS cannot run the {isa} kernels")
    return fastnn_isa_name().decode()


def isa_name():
    return fastnn_isa_name().decode()


def get_num_threads():
    return fastnn_get_num_threads()


def set_num_threads(int n):
    fastnn_set_num_threads(n)


def has_openmp():
    return bool(fastnn_has_openmp())


cdef extern from "kernel_context.h" nogil:
    ctypedef struct fastnn_sgemm_blocking:
        int mr, nr, kc, mc, nc
        const fastnn_sgemm_blocking *tall
    ctypedef struct fastnn_dgemm_blocking:
        int mr, nr, kc, mc, nc
    ctypedef struct fastnn_bf16gemm_blocking:
        int mr, nr, kc, mc, nc
        const fastnn_bf16gemm_blocking *narrow
    ctypedef struct fastnn_conv_rows_kernels:
        int mr_f32, nr_f32, mr_f64, nr_f64
    ctypedef struct fastnn_kernel_context:
        const char *name
        const fastnn_conv_rows_kernels *conv_rows
        const fastnn_sgemm_blocking *sgemm
        const fastnn_dgemm_blocking *dgemm
        const fastnn_bf16gemm_blocking *bf16gemm
    const fastnn_kernel_context *fastnn_active_context()


cdef dict blocking_dict(int mr, int nr, int kc, int mc, int nc):
    return dict(mr=mr, nr=nr, kc=kc, mc=mc, nc=nc)


def kernel_blocking():
    """The active kernels' register tile (mr, nr) and cache blocks (kc, mc, nc), per dtype;
    "bf16_narrow" too where the bf16 kernels have a narrow blocking (a smaller mr, taken for
    products whose rows it pads less); "float32_tall" where float32's have a tall one (a larger
    mr, taken for products of a few rows that it covers in fewer tiles)."""
    cdef const fastnn_kernel_context *ctx = fastnn_active_context()
    cdef const fastnn_sgemm_blocking *s = ctx.sgemm
    cdef const fastnn_dgemm_blocking *d = ctx.dgemm
    cdef const fastnn_bf16gemm_blocking *h = ctx.bf16gemm
    blocks = {
        "float32": blocking_dict(s.mr, s.nr, s.kc, s.mc, s.nc),
        "float64": blocking_dict(d.mr, d.nr, d.kc, d.mc, d.nc),
        # bf16 products run on the bf16 kernels where the set has them, else on float32's
        "bf16": (blocking_dict(h.mr, h.nr, h.kc, h.mc, h.nc) if h != NULL else
                 blocking_dict(s.mr, s.nr, s.kc, s.mc, s.nc)),
    }
    if h != NULL and h.narrow != NULL:
        h = h.narrow
        blocks["bf16_narrow"] = blocking_dict(h.mr, h.nr, h.kc, h.mc, h.nc)
    if s.tall != NULL:
        blocks["float32_tall"] = blocking_dict(s.tall.mr, s.tall.nr, s.tall.kc, s.tall.mc, s.tall.nc)
    return blocks


def conv_rows_tiles():
    """The active convolution-by-rows tiles' (mr, nr), per dtype: the weight gradient by rows
    packs its panels with the GEMM's packer, so they must equal the GEMM's register tiles."""
    cdef const fastnn_conv_rows_kernels *rows = fastnn_active_context().conv_rows
    return {"float32": (rows.mr_f32, rows.nr_f32), "float64": (rows.mr_f64, rows.nr_f64)}


def bf16_native():
    """Whether the active kernels compute bf16 products in bf16 arithmetic (else: float32 on the
    rounded operands)."""
    return fastnn_active_context().bf16gemm != NULL
