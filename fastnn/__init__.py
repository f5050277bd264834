"""fastnn: fast neural-network layers for the CPU.

The costly core (a packed, cache-blocked GEMM with AVX-512, AVX2 and portable micro-kernels
chosen at run time, and the fused elementwise kernels) is C behind a thin Cython shell; this
package validates, allocates and orchestrates.
"""
import operator as _operator
import os as _os

from . import _core
from . import datasets, functional, init, nn, optim
from .estimators import LinearSVM, LogisticRegression, MLPClassifier, MLPRegressor, Perceptron
from .io import load, save
from .bf16 import BF16Array, to_bf16
from .linalg import matmul

__version__ = "0.1.0"

# Decided once, at import: the best kernels this CPU runs, unless FASTNN_ISA names others.
_core.select_isa(_os.environ.get("FASTNN_ISA", "").strip().lower())

# A forked child has none of the parent's worker threads: it starts on one thread, and starts
# its own helpers if it asks for more (csrc/thread_pool.c; tests/test_clear_errors.py).
_os.register_at_fork(after_in_child=lambda: _core.set_num_threads(1))


def cpu_info():
    """What fastnn runs on: the chosen ISA, the CPU's features, the threads it will use.

    >>> import fastnn
    >>> fastnn.cpu_info()["isa"] in fastnn.cpu_info()["isa_supported"]
    True
    """
    features = _core.cpu_features()
    return {
        "isa": _core.isa_name(),
        "isa_supported": [isa for isa in _core.isa_names() if _core.isa_supported(isa) == 1],
        # whether precision="bf16" runs on bf16 arithmetic, rather than on float32's
        "bf16_native": _core.bf16_native(),
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


MAX_THREADS = 1024


def set_num_threads(n):
    """Use `n` threads (at most MAX_THREADS) for large kernels; `n=None` (or 0) follows OpenMP
    again, so OMP_NUM_THREADS and threadpoolctl take effect."""
    if n is None:
        n = 0
    if isinstance(n, bool) or not isinstance(n, (int,)) and not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads: n must be an int or None, got {type(n).__name__}")
    n = _operator.index(n)
    if not 0 <= n <= MAX_THREADS:
        raise ValueError(f"set_num_threads: n must be >= 1 and <= {MAX_THREADS} (or None/0 for "
                         f"OpenMP's default), got {n}")
    _core.set_num_threads(n)


__all__ = ["matmul", "to_bf16", "BF16Array", "cpu_info", "get_num_threads", "set_num_threads", "save", "load",
           "MLPClassifier", "MLPRegressor", "Perceptron", "LogisticRegression", "LinearSVM",
           "datasets", "functional", "init", "nn", "optim", "__version__"]
