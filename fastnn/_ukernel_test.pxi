# Test-only entries (csrc/ukernel_test.h): any kernel set's micro-kernels and bf16 packers,
# called on their own, whichever set is active. The sizes are checked here so that a wrong test
# fails with an exception, never by reading out of bounds.

cdef extern from "ukernel_test.h" nogil:
    int fastnn_ukernel_shape(const char *isa, int kind, int *mr, int *nr)
    int fastnn_ukernel_run(const char *isa, int kind, ptrdiff_t k, const void *a, ptrdiff_t lda,
                           ptrdiff_t rows, const void *b, ptrdiff_t ldb, ptrdiff_t cols, void *c,
                           ptrdiff_t ldc, double alpha, double beta, long repeats)
    int fastnn_packing_ukernel_run(const char *isa, ptrdiff_t k, const float *a, const float *b,
                                   float *c, ptrdiff_t ldc, double alpha, double beta,
                                   const float *src, ptrdiff_t ld_src, float *dst,
                                   ptrdiff_t copy_rows)
    int fastnn_bf16_pack_run(const char *isa, int interleaved, int from_bf16, ptrdiff_t kc,
                             const void *src,
                             ptrdiff_t ld, int w, ptrdiff_t panels, void *dst)
    int fastnn_float_pack_run(const char *isa, int f64, int transposed, ptrdiff_t kc,
                              const void *src, ptrdiff_t ld, int w, ptrdiff_t panels, void *dst)

# kind: (code, element type of A and B, of C, whether a dot tile)
UKERNEL_KINDS = {"sgemm": (0, np.float32, np.float32, False),
                 "dgemm": (1, np.float64, np.float64, False),
                 "bf16gemm": (2, np.uint16, np.float32, False),
                 "sgemm_dot": (3, np.float32, np.float32, True),
                 "dgemm_dot": (4, np.float64, np.float64, True),
                 "bf16gemm_dot": (5, np.float32, np.float32, True),
                 "bf16gemm_narrow": (6, np.uint16, np.float32, False),
                 "bf16gemm_fetching": (7, np.uint16, np.float32, False),
                 "bf16gemm_narrow_fetching": (8, np.uint16, np.float32, False),
                 "sgemm_half": (9, np.float32, np.float32, False),
                 "dgemm_half": (10, np.float64, np.float64, False),
                 "sgemm_packing_b": (11, np.float32, np.float32, False),
                 "sgemm_dot_wide": (12, np.float32, np.float32, True)}


cdef int _ukernel_status(int status, str isa, str kind) except -1:
    if status == -1:
        raise ValueError(f"_ukernel_test: no kernel set named {isa!r}")
    if status == -2:
        raise ValueError(f"_ukernel_test: {isa} has no {kind} kernel this CPU runs")
    return 0


def _ukernel_shape(str isa, str kind):
    """(mr, nr) of a register tile, (dot_mr, dot_nr) of a dot tile; ValueError if the set lacks it."""
    cdef int mr = 0, nr = 0
    _ukernel_status(fastnn_ukernel_shape(isa.encode(), UKERNEL_KINDS[kind][0], &mr, &nr), isa, kind)
    return mr, nr


def _ukernel_test(str isa, str kind, ptrdiff_t k, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c,
                  double alpha=1.0, double beta=0.0, ptrdiff_t rows=0, ptrdiff_t cols=0,
                  long repeats=1):
    """Runs one micro-kernel of set `isa` on its own, into c, `repeats` times.

    Register tiles ("sgemm", "dgemm", "bf16gemm", "bf16gemm_narrow", and the bf16 ones'
    "_fetching" variants, which also fetch the lines of their own panels; "sgemm_packing_b",
    copying nothing: _packing_ukernel_test copies): a and b are the
    packed panels the loop nest hands over (k * mr and k * nr values; bf16: pairs, k rounded up
    to even, as uint16), c a (mr, >= nr) array. Dot tiles ("sgemm_dot", "dgemm_dot"): a (>= rows, >= k) and b
    (>= cols, >= k) with unit column stride, c (>= rows, >= cols); rows, cols at most the tile."""
    code, ab_type, c_type, is_dot = UKERNEL_KINDS[kind]
    mr, nr = _ukernel_shape(isa, kind)
    for name, x, t in (("a", a, ab_type), ("b", b, ab_type), ("c", c, c_type)):
        if x.dtype != t or x.ndim != 2 or (x.shape[0] and x.shape[1] > 1 and x.strides[1] != x.itemsize):
            raise ValueError(f"_ukernel_test: {name} must be 2-D {np.dtype(t).name} with unit column stride")
        _check_aligned(x, "_ukernel_test: " + name)
    if not c.flags.writeable:
        raise ValueError("_ukernel_test: c is read-only")
    cdef ptrdiff_t steps = k + (k & 1) if kind.startswith("bf16gemm") and not is_dot else k
    if k < 0 or repeats < 1:
        raise ValueError("_ukernel_test: k >= 0 and repeats >= 1")
    if is_dot:
        if not (1 <= rows <= mr and 1 <= cols <= nr and a.shape[0] >= rows and b.shape[0] >= cols
                and a.shape[1] >= k and b.shape[1] >= k and c.shape[0] >= rows and c.shape[1] >= cols):
            raise ValueError(f"_ukernel_test: a {(<object>a).shape}, b {(<object>b).shape}, c {(<object>c).shape} do not hold a "
                             f"{rows} x {cols} tile (at most {mr} x {nr}) over k={k}")
    else:
        rows, cols = mr, nr
        if not (a.flags.c_contiguous and b.flags.c_contiguous and a.size >= steps * mr
                and b.size >= steps * nr and c.shape[0] >= mr and c.shape[1] >= nr):
            raise ValueError(f"_ukernel_test: contiguous panels of {steps} x {mr} and {steps} x {nr} "
                             f"and c of ({mr}, >= {nr}) needed, got {a.size}, {b.size}, {(<object>c).shape}")
    cdef ptrdiff_t lda = a.strides[0] // a.itemsize if a.shape[0] > 1 else a.shape[1]
    cdef ptrdiff_t ldb = (b.strides[0] // b.itemsize if b.shape[0] > 1 else b.shape[1]) if is_dot else nr
    cdef ptrdiff_t ldc = c.strides[0] // c.itemsize if c.shape[0] > 1 else c.shape[1]
    cdef bytes isa_name = isa.encode()
    cdef const char *isa_c = isa_name
    cdef int status, code_c = code
    cdef const void *pa = cnp.PyArray_DATA(a)
    cdef const void *pb = cnp.PyArray_DATA(b)
    cdef void *pc = cnp.PyArray_DATA(c)
    with nogil:
        status = fastnn_ukernel_run(isa_c, code_c, k, pa, lda, rows, pb, ldb, cols, pc, ldc,
                                    alpha, beta, repeats)
    _ukernel_status(status, isa, kind)
    return c


def _packing_ukernel_test(str isa, ptrdiff_t k, cnp.ndarray a, cnp.ndarray b, cnp.ndarray c,
                          cnp.ndarray src, cnp.ndarray dst, ptrdiff_t copy_rows,
                          double alpha=1.0, double beta=0.0):
    """The float32 tile of set `isa` that packs B's next micro-panel as it runs: a and b packed
    panels (k * mr and k * nr floats), c an (mr, >= nr) array, and copy_rows k steps of nr floats
    from the rows of src (float32, (>= copy_rows, >= nr), unit column stride) into dst (a
    contiguous float32 array of at least copy_rows * nr). Returns c."""
    mr, nr = _ukernel_shape(isa, "sgemm_packing_b")
    for name, x in (("a", a), ("b", b), ("c", c), ("src", src), ("dst", dst)):
        if x.dtype != np.float32 or x.ndim < 1 or x.ndim > 2 or (
                x.ndim == 2 and x.shape[0] and x.shape[1] > 1 and x.strides[1] != x.itemsize):
            raise ValueError(f"_packing_ukernel_test: {name} must be float32 with unit column stride")
        _check_aligned(x, "_packing_ukernel_test: " + name)
    if not (c.flags.writeable and dst.flags.writeable and dst.flags.c_contiguous):
        raise ValueError("_packing_ukernel_test: c and dst must be writeable, dst contiguous")
    if k < 0 or copy_rows < 0:
        raise ValueError("_packing_ukernel_test: k >= 0 and copy_rows >= 0")
    if not (a.flags.c_contiguous and b.flags.c_contiguous and a.size >= k * mr and b.size >= k * nr
            and c.ndim == 2 and c.shape[0] >= mr and c.shape[1] >= nr and src.ndim == 2
            and src.shape[0] >= copy_rows and src.shape[1] >= nr and dst.size >= copy_rows * nr):
        raise ValueError(f"_packing_ukernel_test: panels of {k} x {mr} and {k} x {nr}, c of "
                         f"({mr}, >= {nr}), src of (>= {copy_rows}, >= {nr}) and dst of "
                         f">= {copy_rows * nr} needed")
    cdef ptrdiff_t ldc = c.strides[0] // c.itemsize if c.shape[0] > 1 else c.shape[1]
    cdef ptrdiff_t ld_src = src.strides[0] // src.itemsize if src.shape[0] > 1 else src.shape[1]
    cdef bytes isa_name = isa.encode()
    cdef const char *isa_c = isa_name
    cdef int status
    cdef const float *pa = <const float *>cnp.PyArray_DATA(a)
    cdef const float *pb = <const float *>cnp.PyArray_DATA(b)
    cdef float *pc = <float *>cnp.PyArray_DATA(c)
    cdef const float *psrc = <const float *>cnp.PyArray_DATA(src)
    cdef float *pdst = <float *>cnp.PyArray_DATA(dst)
    with nogil:
        status = fastnn_packing_ukernel_run(isa_c, k, pa, pb, pc, ldc, alpha, beta, psrc, ld_src,
                                            pdst, copy_rows)
    _ukernel_status(status, isa, "sgemm_packing_b")
    return c


def _bf16_pack_test(str isa, bint interleaved, cnp.ndarray src, int w, ptrdiff_t panels):
    """Set `isa`'s vector packer on src, float32 (rounded) or uint16 (bf16 bit patterns, the
    packers from bf16-stored operands): interleaved, src is (kc, >= panels * w), k steps along
    rows; transposed, src is (>= panels * w, kc), rows along k. Returns the uint16 panels."""
    if src.dtype != np.float32 and src.dtype != np.uint16:
        raise ValueError("_bf16_pack_test: src must be float32 or uint16 (bf16 bits)")
    if src.ndim != 2 or (src.shape[1] > 1 and src.strides[1] != src.itemsize):
        raise ValueError("_bf16_pack_test: src must be 2-D with unit column stride")
    _check_aligned(src, "_bf16_pack_test: src")
    cdef ptrdiff_t kc = src.shape[0] if interleaved else src.shape[1]
    cdef ptrdiff_t width = src.shape[1] if interleaved else src.shape[0]
    if w < 1 or panels < 1 or width < panels * w or kc < 1:
        raise ValueError(f"_bf16_pack_test: {panels} panels of {w} do not fit src {(<object>src).shape}")
    cdef cnp.ndarray dst = np.full(panels * w * (kc + (kc & 1)), 0xFFFF, dtype=np.uint16)
    cdef ptrdiff_t ld = src.strides[0] // src.itemsize if src.shape[0] > 1 else src.shape[1]
    cdef bytes isa_name = isa.encode()
    _ukernel_status(fastnn_bf16_pack_run(isa_name, interleaved, src.dtype == np.uint16, kc,
                                         cnp.PyArray_DATA(src), ld, w, panels,
                                         cnp.PyArray_DATA(dst)), isa, "bf16 packing")
    return dst


def _float_pack_test(str isa, bint transposed, cnp.ndarray src, int w, ptrdiff_t panels,
                     ptrdiff_t guard=0):
    """Set `isa`'s float32 or float64 packer (src's dtype): by copying, src is (kc, >= panels * w),
    k steps along rows; transposed, src is (>= panels * w, kc), rows along k. Returns the panels,
    followed by `guard` values the packer must not write (NaN)."""
    if src.dtype not in (np.float32, np.float64) or src.ndim != 2 or (
            src.shape[1] > 1 and src.strides[1] != src.itemsize):
        raise ValueError("_float_pack_test: src must be 2-D float32 or float64 with unit column stride")
    cdef ptrdiff_t kc = src.shape[1] if transposed else src.shape[0]
    cdef ptrdiff_t width = src.shape[0] if transposed else src.shape[1]
    if w < 1 or panels < 1 or width < panels * w or kc < 1 or guard < 0:
        raise ValueError(f"_float_pack_test: {panels} panels of {w} do not fit src {(<object>src).shape}")
    cdef cnp.ndarray dst = np.full(panels * w * kc + guard, np.nan, dtype=src.dtype)
    cdef ptrdiff_t ld = src.strides[0] // src.itemsize if src.shape[0] > 1 else src.shape[1]
    cdef bytes isa_name = isa.encode()
    _ukernel_status(fastnn_float_pack_run(isa_name, src.dtype == np.float64, transposed, kc,
                                          cnp.PyArray_DATA(src), ld, w, panels,
                                          cnp.PyArray_DATA(dst)),
                    isa, "transposing packer" if transposed else "copying packer")
    return dst
