# The machine's limits, probed: the FMA peak (csrc/fma_peak.h), validated by fastnn.bench.machine,
# and the stream probes of the batch-1 step's memory traffic (csrc/stream_probe.h).

cdef extern from "stream_probe.h" nogil:
    float fastnn_stream_read(const float *a, ptrdiff_t n, int prefetch)
    void fastnn_stream_update_pair(float *a, float *b, ptrdiff_t n, int prefetch)

cdef extern from "fma_peak.h" nogil:
    double fastnn_fma_peak_gflops(int is_double, double seconds, int runs)
    int fastnn_fma_peak_lanes(int is_double)
    double fastnn_bf16_peak_gflops(double seconds, int runs)
    double fastnn_sgemm_ukernel_gflops(double seconds, int runs)


def fma_peak_gflops(bint is_double, double seconds, int runs):
    """One core's FMA rate in GFLOP/s on the active ISA: the best of `runs` runs of `seconds`."""
    cdef double gflops
    with nogil:
        gflops = fastnn_fma_peak_gflops(is_double, seconds, runs)
    if gflops < 0:
        raise OSError("fma_peak_gflops: the monotonic clock failed")
    return gflops


def fma_peak_lanes(bint is_double):
    """Elements per vector in the active ISA's probe."""
    return fastnn_fma_peak_lanes(is_double)


def bf16_peak_gflops(double seconds, int runs):
    """One core's rate of bf16 dot products (VDPBF16PS) in GFLOP/s on the active ISA, or 0.0
    where it has none."""
    cdef double gflops
    with nogil:
        gflops = fastnn_bf16_peak_gflops(seconds, runs)
    if gflops < 0:
        raise OSError("bf16_peak_gflops: the monotonic clock failed")
    return gflops


def sgemm_ukernel_gflops(double seconds, int runs):
    """The active ISA's float32 GEMM micro-kernel alone on L1-resident panels, in GFLOP/s: the
    best of `runs` runs of `seconds`."""
    cdef double gflops
    with nogil:
        gflops = fastnn_sgemm_ukernel_gflops(seconds, runs)
    if gflops < 0:
        raise OSError("sgemm_ukernel_gflops: the clock failed or the panels could not be allocated")
    return gflops


cdef ptrdiff_t _stream_array(object a, str name, bint written) except -1:
    if a.dtype != np.float32 or a.ndim != 1 or not a.flags.c_contiguous:
        raise TypeError(f"stream probe: {name} must be a 1-D C-contiguous float32 array, "
                        f"got {a.dtype} with shape {a.shape}")
    if not a.flags.aligned:  # C reads it as float *: at an address a multiple of 4
        raise ValueError(f"stream probe: {name} must be aligned for float32, got data at "
                         f"an address not a multiple of 4 bytes")
    if written and not a.flags.writeable:
        raise ValueError(f"stream probe: {name} must be writeable")
    if a.shape[0] % 64:
        raise ValueError(f"stream probe: {name} must hold a multiple of 64 values, got {len(a)}")
    return len(a)


def stream_read(cnp.ndarray a not None, bint prefetch=True):
    """One pass reading the float32 array a (size a multiple of 64) on the active ISA's widest
    vectors; returns its sum. The caller times it (fastnn.bench.machine.stream_rates)."""
    cdef ptrdiff_t n = _stream_array(a, "a", False)
    cdef const float *data = <const float *>cnp.PyArray_DATA(a)
    cdef float total
    with nogil:
        total = fastnn_stream_read(data, n, prefetch)
    return total


def stream_update_pair(cnp.ndarray a not None, cnp.ndarray b not None, bint prefetch=True):
    """One pass reading a and b (float32, one size, a multiple of 64, not overlapping) and writing
    both back in place: the access pattern of an SGD-momentum update of a weight and its momentum
    (zeros stay zeros). The caller times it."""
    cdef ptrdiff_t n = _stream_array(a, "a", True)
    if _stream_array(b, "b", True) != n:
        raise ValueError(f"stream probe: a and b must have one size, got {n} and {len(b)}")
    if np.shares_memory(a, b):
        raise ValueError("stream probe: a and b must not overlap")
    cdef float *pa = <float *>cnp.PyArray_DATA(a)
    cdef float *pb = <float *>cnp.PyArray_DATA(b)
    with nogil:
        fastnn_stream_update_pair(pa, pb, n, prefetch)
