"""GEMM: GFLOP/s and % of the measured peak for the plain and both transposed forms.

The forms are those a Linear layer runs, weights being stored (out, in):
    A.B^T   forward        X.W^T
    A.B     input grad     dS.W
    A^T.B   weight grad    dS^T.X
"""
import numpy as np

from .competitors import gemm_runner, libraries_for_threads, thread_count
from .flops import gemm_flops
from .timing import clock_for, interleaved_best

GEMM_FORMS = {"A.B": (False, False), "A.B^T": (False, True), "A^T.B": (True, False)}


def gemm_operands(m, n, k, form, dtype, rng):
    """Random operands a, b whose op(a)·op(b) is (m, k)·(k, n) in the given form."""
    trans_a, trans_b = GEMM_FORMS[form]
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def gemm_case(n, form, dtype, threads, all_threads, libraries, peak_one_core, timing, seed=0):
    """Time an n x n x n product in `form` with each library on `threads` threads; one row each."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    a, b = gemm_operands(n, n, n, form, dtype, rng)
    trans_a, trans_b = GEMM_FORMS[form]
    libraries = libraries_for_threads(libraries, threads, all_threads)
    with thread_count(threads):
        runners = {lib: gemm_runner(lib, a, b, trans_a, trans_b) for lib in libraries}
        best = interleaved_best(runners, clock=clock_for(threads), **timing)
    flops = gemm_flops(n, n, n)
    peak = peak_one_core * threads
    return [{
        "n": n, "form": form, "dtype": dtype.name, "threads": threads, "library": lib,
        "seconds": best[lib], "gflops": flops / best[lib] * 1e-9,
        "percent_of_peak": 100 * flops / best[lib] * 1e-9 / peak,
    } for lib in libraries]
