"""The machine: what the benchmark runs on and the physical limit every figure is held against."""
import os
import platform

import numpy as np

import fastnn
from fastnn import _core

from .bf16 import bf16_peak_gflops
from .competitors import comparison_warnings, competitor_versions


def fma_peak_gflops(dtype=np.float32, seconds=0.002, runs=50):
    """One core's measured peak in GFLOP/s: independent FMA chains on the widest vectors of the
    ISA fastnn chose, the best of `runs` runs of `seconds` each. Many short runs find a quiet
    moment on a shared machine, where one long run would include other processes' time slices.

    >>> import fastnn.bench
    >>> fastnn.bench.fma_peak_gflops("float32", runs=3) > 0
    True
    """
    dtype = np.dtype(dtype)
    if dtype.type not in (np.float32, np.float64):
        raise TypeError(f"fma_peak_gflops: dtype must be float32 or float64, got {dtype}")
    seconds, runs = probe_timing("fma_peak_gflops", seconds, runs)
    return _core.fma_peak_gflops(dtype.type is np.float64, seconds, runs)


def ukernel_gflops(seconds=0.002, runs=50):
    """One core's rate of the float32 GEMM micro-kernel fastnn chose, alone, on packed panels
    that stay in L1 (its register tile over one pass of KC steps, called again and again), in
    GFLOP/s: the best of `runs` runs of `seconds` each. No product runs faster: a product also
    packs its operands, moves blocks through the caches and computes edge tiles. Its share of
    fma_peak_gflops is what the kernel itself leaves of the peak.

    >>> import fastnn.bench.machine as m
    >>> m.ukernel_gflops(runs=3) > 0
    True
    """
    seconds, runs = probe_timing("ukernel_gflops", seconds, runs)
    return _core.sgemm_ukernel_gflops(seconds, runs)


def probe_timing(name, seconds, runs):
    """A probe's `seconds` (in (0, 10]) and `runs` (an int in [1, 10000]), checked."""
    seconds = float(seconds)
    if not 0 < seconds <= 10:
        raise ValueError(f"{name}: seconds must be in (0, 10], got {seconds}")
    if isinstance(runs, bool) or int(runs) != runs or not 1 <= runs <= 10000:
        raise ValueError(f"{name}: runs must be an int in [1, 10000], got {runs!r}")
    return seconds, int(runs)


def vector_lanes(dtype=np.float32):
    """Elements per vector of the ISA fastnn chose (16 float32 for AVX-512)."""
    return _core.fma_peak_lanes(np.dtype(dtype).type is np.float64)


def load_average():
    """The 1-minute load average (runnable processes), or None where the OS does not say."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def describe_machine(probe_runs=50, libraries=("numpy", "torch", "jax")):
    """A dict describing the CPU, the chosen kernels, the threads, the software, the load, one
    core's measured FMA peak for float32 and float64 and its float32 GEMM micro-kernel's rate on
    L1-resident panels; `warnings` says what makes the
    comparison with `libraries` unfair on this run."""
    info = fastnn.cpu_info()
    return {
        "cpu": info["brand"] or platform.processor() or "unknown",
        "vendor": info["vendor"],
        "isa": info["isa"],
        "isa_supported": info["isa_supported"],
        "features": info["features"],
        "threads": fastnn.get_num_threads(),
        "logical_cpus": os.cpu_count(),
        "openmp": info["openmp"],
        "load_average_at_start": load_average(),
        "peak_gflops_f32_one_core": fma_peak_gflops(np.float32, runs=probe_runs),
        "peak_gflops_f64_one_core": fma_peak_gflops(np.float64, runs=probe_runs),
        "peak_gflops_bf16_one_core": bf16_peak_gflops(runs=probe_runs),
        "ukernel_gflops_f32_one_core": ukernel_gflops(runs=probe_runs),
        "vector_lanes_f32": vector_lanes(np.float32),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "fastnn": fastnn.__version__,
        "libraries": competitor_versions(),
        "warnings": comparison_warnings(libraries),
    }
