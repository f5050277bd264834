# The GEMM shell (csrc/gemm.h, csrc/dispatch.h). Internal: fastnn.linalg and the layers validate
# before calling; here we only check what would make C read or write out of bounds.
from libc.stddef cimport ptrdiff_t

cdef extern from "gemm.h" nogil:
    ctypedef struct fastnn_epilogue:
        pass
    void fastnn_epilogue_init(fastnn_epilogue *epilogue, int is_double, const void *bias,
                              int activation, void *pre_activation, ptrdiff_t ld_pre)
    int fastnn_sgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                      const float *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                      const float *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                      float beta, float *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)
    int fastnn_dgemm(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                      const double *a, ptrdiff_t rs_a, ptrdiff_t cs_a,
                      const double *b, ptrdiff_t rs_b, ptrdiff_t cs_b,
                      double beta, double *c, ptrdiff_t ldc, const fastnn_epilogue *epilogue)

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
    int fastnn_get_num_threads()
    void fastnn_set_num_threads(int n)
    int fastnn_has_openmp()

# Activation codes of csrc/activation_math.h, by the names the Python API uses.
ACTIVATIONS = {"identity": 0, "relu": 1, "tanh": 2, "sigmoid": 3, "gelu": 4, "gelu_tanh": 5}


cdef ptrdiff_t _element_stride(cnp.ndarray x, int axis) except? -1:
    cdef ptrdiff_t stride = x.strides[axis]
    if stride % x.itemsize:
        raise ValueError("strides must be whole elements")
    return stride // x.itemsize


def gemm(cnp.ndarray a, cnp.ndarray b, cnp.ndarray c, double alpha=1.0, double beta=0.0,
         cnp.ndarray bias=None, int activation=0, cnp.ndarray pre_activation=None):
    """c = activation(alpha * a @ b + beta * c + bias), with pre_activation receiving the value
    before the activation. a (m, k), b (k, n): any strides; c and pre_activation (m, n) with unit
    column stride; bias (n,) contiguous; all of one dtype, float32 or float64."""
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
    cdef ptrdiff_t rs_a = _element_stride(a, 0), cs_a = _element_stride(a, 1)
    cdef ptrdiff_t rs_b = _element_stride(b, 0), cs_b = _element_stride(b, 1)
    cdef ptrdiff_t ldc = _element_stride(c, 0)
    cdef const void *bias_data = NULL
    cdef void *pre_data = NULL
    cdef ptrdiff_t ld_pre = 0
    if bias is not None:
        if cnp.PyArray_TYPE(bias) != type_num or bias.ndim != 1 or bias.shape[0] != n or not bias.flags.c_contiguous:
            raise ValueError("gemm: bias must be contiguous (n,) of c's dtype")
        bias_data = cnp.PyArray_DATA(bias)
    if pre_activation is not None:
        if (cnp.PyArray_TYPE(pre_activation) != type_num or pre_activation.ndim != 2 or pre_activation.shape[0] != m
                or pre_activation.shape[1] != n or (m and n and pre_activation.strides[1] != c.itemsize)):
            raise ValueError("gemm: pre_activation must be (m, n) of c's dtype with unit column stride")
        pre_data = cnp.PyArray_DATA(pre_activation)
        ld_pre = _element_stride(pre_activation, 0)
    if not 0 <= activation < len(ACTIVATIONS):
        raise ValueError(f"gemm: unknown activation code {activation}")
    cdef fastnn_epilogue epilogue
    cdef fastnn_epilogue *epilogue_ptr = NULL
    if bias_data != NULL or activation != 0 or pre_data != NULL:
        fastnn_epilogue_init(&epilogue, is_double, bias_data, activation, pre_data, ld_pre)
        epilogue_ptr = &epilogue
    cdef void *pa = cnp.PyArray_DATA(a)
    cdef void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(c)
    cdef int status
    with nogil:
        if is_double:
            status = fastnn_dgemm(m, n, k, alpha, <const double *>pa, rs_a, cs_a, <const double *>pb, rs_b,
                         cs_b, beta, <double *>pc, ldc, epilogue_ptr)
        else:
            status = fastnn_sgemm(m, n, k, <float>alpha, <const float *>pa, rs_a, cs_a, <const float *>pb,
                         rs_b, cs_b, <float>beta, <float *>pc, ldc, epilogue_ptr)
    if status != 0:
        raise MemoryError("gemm: could not allocate the packing buffers")
    return c


def cpu_features():
    """The CPU's vendor, brand and the instruction-set features the dispatcher looks at."""
    cdef const fastnn_cpu_features *f = fastnn_cpu()
    return {
        "vendor": f.vendor.decode("ascii", "replace").strip("\x00 "),
        "brand": f.brand.decode("ascii", "replace").strip("\x00 "),
        "sse2": bool(f.sse2), "avx": bool(f.avx), "fma": bool(f.fma), "avx2": bool(f.avx2),
        "avx512f": bool(f.avx512f), "avx512bw": bool(f.avx512bw), "avx512dq": bool(f.avx512dq),
        "avx512vl": bool(f.avx512vl), "avx512_bf16": bool(f.avx512_bf16),
        "os_saves_avx": bool(f.os_saves_avx), "os_saves_avx512": bool(f.os_saves_avx512),
    }


def isa_supported(str isa):
    """1 if this machine runs the kernels of `isa`, 0 if not, -1 for an unknown name."""
    return fastnn_isa_supported(isa.encode())


def select_isa(str isa):
    """Choose the kernels ('' for the best supported); raises ValueError when it cannot."""
    cdef int status = fastnn_select_isa(isa.encode())
    if status == -1:
        raise ValueError(f"FASTNN_ISA={isa!r} is not one of 'avx512', 'avx2', 'generic'")
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
    ctypedef struct fastnn_dgemm_blocking:
        int mr, nr, kc, mc, nc
    ctypedef struct fastnn_kernel_context:
        const char *name
        fastnn_sgemm_blocking sgemm
        fastnn_dgemm_blocking dgemm
    const fastnn_kernel_context *fastnn_active_context()


def kernel_blocking():
    """The active kernels' register tile (mr, nr) and cache blocks (kc, mc, nc), per dtype."""
    cdef const fastnn_kernel_context *ctx = fastnn_active_context()
    return {
        "float32": dict(mr=ctx.sgemm.mr, nr=ctx.sgemm.nr, kc=ctx.sgemm.kc, mc=ctx.sgemm.mc, nc=ctx.sgemm.nc),
        "float64": dict(mr=ctx.dgemm.mr, nr=ctx.dgemm.nr, kc=ctx.dgemm.kc, mc=ctx.dgemm.mc, nc=ctx.dgemm.nc),
    }
