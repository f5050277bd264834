"""fastnn: fast neural-network layers for the CPU.

The costly core (a packed, cache-blocked GEMM with AVX-512, AVX2 and portable micro-kernels
chosen at run time, and the fused elementwise kernels) is C behind a thin Cython shell; this
package validates, allocates and orchestrates.
"""
import operator as _operator
import os as _os
import warnings as _warnings

from . import _core
from . import datasets, functional, init, nn, optim
from .estimators import LinearSVM, LogisticRegression, MLPClassifier, MLPRegressor, Perceptron
from .io import load, save
from .linalg import matmul

__version__ = "0.1.0"

# Decided once, at import: the best kernels this CPU runs, unless FASTNN_ISA names others.
_core.select_isa(_os.environ.get("FASTNN_ISA", "").strip().lower())

# libgomp does not survive fork: a forked child's first parallel region waits forever for the
# parent's pool threads. A forked child therefore runs fastnn on one thread, whatever it asks
# set_num_threads or OpenMP for; workers that want threads are started with multiprocessing's
# "spawn" or "forkserver" (tests/test_concurrency.py).
_in_forked_child = False


def _after_fork_in_child():
    global _in_forked_child
    _in_forked_child = True
    _core.mark_forked_child()


_os.register_at_fork(after_in_child=_after_fork_in_child)
MAX_THREADS = 1024


def cpu_info():
    """What fastnn runs on: the chosen ISA, the CPU's features, the threads it will use.

    >>> import fastnn
    >>> fastnn.cpu_info()["isa"] in ("avx512", "avx2", "generic")
    True
    """
    features = _core.cpu_features()
    return {
        "isa": _core.isa_name(),
        "isa_supported": [isa for isa in ("avx512", "avx2", "generic") if _core.isa_supported(isa) == 1],
        "brand": features.pop("brand"),
        "vendor": features.pop("vendor"),
        "features": features,
        "blocking": _core.kernel_blocking(),
        "num_threads": _core.get_num_threads(),
        "openmp": _core.has_openmp(),
    }


def get_num_threads():
    """The number of threads the next large kernel call will use."""
    return _core.get_num_threads()


def set_num_threads(n):
    """Use `n` threads (1 to MAX_THREADS) for large kernels; `n=None` (or 0) follows OpenMP
    again, so OMP_NUM_THREADS and threadpoolctl take effect.

    In a child made by fork (multiprocessing's default start method on Linux) fastnn stays on
    one thread whatever is asked, with a RuntimeWarning when more are: OpenMP's threads do not
    survive fork, and a parallel region there would wait for them forever. Start such workers
    with the "spawn" or "forkserver" method to use threads in them."""
    if n is None:
        n = 0
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads: n must be an int or None, got {type(n).__name__}")
    n = _operator.index(n)
    if not 0 <= n <= MAX_THREADS:
        raise ValueError(f"set_num_threads: n must be >= 1 and <= {MAX_THREADS} (or None/0 for "
                         f"OpenMP's default), got {n}")
    if _in_forked_child and n != 1:
        _warnings.warn("set_num_threads: this process was forked from one that may have started "
                       "OpenMP's threads, which do not survive fork; fastnn stays on one thread here "
                       "(start workers with multiprocessing's 'spawn' or 'forkserver' method for "
                       "threads)", RuntimeWarning, stacklevel=2)
    _core.set_num_threads(n)


__all__ = ["matmul", "cpu_info", "get_num_threads", "set_num_threads", "save", "load",
           "MLPClassifier", "MLPRegressor", "Perceptron", "LogisticRegression", "LinearSVM",
           "datasets", "functional", "init", "nn", "optim", "__version__"]
