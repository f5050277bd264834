# The FMA peak probe shell (csrc/fma_peak.h). Internal: fastnn.bench.machine validates first.

cdef extern from "fma_peak.h" nogil:
    double fastnn_fma_peak_gflops(int is_double, double seconds, int runs)
    int fastnn_fma_peak_lanes(int is_double)
    double fastnn_bf16_peak_gflops(double seconds, int runs)


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
