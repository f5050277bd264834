"""The libraries fastnn is measured beside: numpy always; torch and jax when installed.

Thread counts: fastnn and torch take theirs at run time; numpy's BLAS does through threadpoolctl
when it is installed (otherwise numpy runs with its default and the figures say so); jax (XLA)
fixes its thread pool at start-up, so it is timed only with all threads.
"""
import contextlib
import functools
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from functools import partial

import numpy as np

import fastnn

_modules = {}


def optional_module(name):
    """The module `name`, or None when it is not installed (or fails to import)."""
    if name not in _modules:
        try:
            _modules[name] = importlib.import_module(name)
        except Exception:
            _modules[name] = None
    return _modules[name]


@functools.lru_cache(maxsize=1)
def numpy_core_binary():
    """The bytes of numpy's core extension module (its linked libraries' names among them), or
    b"" where it cannot be read."""
    core = sys.modules.get("numpy._core._multiarray_umath") or sys.modules.get(
        "numpy.core._multiarray_umath")
    try:
        with open(core.__file__, "rb") as f:
            return f.read()
    except (AttributeError, OSError, TypeError):
        return b""


def numpy_blas_pool(pools=None, linked=None):
    """threadpoolctl's entry (a dict) for the BLAS numpy itself calls, or None. Several BLAS
    libraries may be loaded at once (scipy and torch bring their own OpenBLAS, and threadpoolctl
    lists scipy's first here): numpy's is the one whose file name its core extension links
    against (`linked`, by default that extension's bytes), else the one inside numpy's own
    directories, else the only one loaded. `pools` defaults to threadpoolctl.threadpool_info()."""
    if pools is None:
        threadpoolctl = optional_module("threadpoolctl")
        if threadpoolctl is None:
            return None
        pools = threadpoolctl.threadpool_info()
    blas = [pool for pool in pools if pool.get("user_api") == "blas"]
    linked = numpy_core_binary() if linked is None else linked
    for pool in blas:
        name = os.path.basename(pool.get("filepath") or "")
        if name and name.encode() in linked:
            return pool
    numpy_dir = os.path.dirname(os.path.abspath(np.__file__))
    for pool in blas:
        path = os.path.abspath(pool.get("filepath") or os.sep)
        if any(path.startswith(d + os.sep) for d in (numpy_dir, numpy_dir + ".libs")):
            return pool
    return blas[0] if len(blas) == 1 else None


def numpy_blas():
    """The BLAS behind numpy and the kernels it runs, as threadpoolctl names them (e.g.
    "openblas 0.3.29, SkylakeX kernels"), or None."""
    pool = numpy_blas_pool()
    if pool is None:
        return None
    kernels = f", {pool['architecture']} kernels" if pool.get("architecture") else ""
    return f"{pool.get('internal_api')} {pool.get('version')}{kernels}"


# Environment variables that make OpenBLAS run other kernels than it would choose for this CPU.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def comparison_warnings(libraries=("numpy", "torch", "jax")):
    """What makes the comparison unfair on this run, in words: numpy forced onto older kernels, or
    jax free to use more cores than the others."""
    warnings = []
    forced = [f"{name}={os.environ[name]}" for name in OPENBLAS_OVERRIDES if name in os.environ]
    if forced and "numpy" in libraries:
        warnings.append(f"{' and '.join(forced)} set: numpy's OpenBLAS may run older, slower "
                        "kernels than users get; unset them for this command "
                        f"(env -u {' -u '.join(n for n in OPENBLAS_OVERRIDES if n in os.environ)} "
                        "python -m fastnn.bench)")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if "jax" in libraries and installed("jax") and (cores or 1) > 1:
        warnings.append(f"jax ignores thread settings and may use all {cores} cores in every "
                        "row; for one-core comparisons pass --one-core (or run the whole "
                        "benchmark under `taskset -c 0`)")
    return warnings


def installed(name):
    """Whether `name` can be imported, without importing it (torch and jax take seconds)."""
    return importlib.util.find_spec(name) is not None


def competitor_versions():
    """Versions of the libraries that may take part (None for those not installed)."""
    versions = {"numpy": np.__version__, "numpy_blas": numpy_blas()}
    for name in ("torch", "jax", "threadpoolctl", "matplotlib"):
        try:
            versions[name] = importlib.metadata.version(name) if installed(name) else None
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def available_libraries(wanted=("fastnn", "numpy", "torch", "jax")):
    """Those of `wanted` that can run here, in order."""
    return [name for name in wanted if name in ("fastnn", "numpy") or optional_module(name)]


def libraries_for_threads(libraries, threads, all_threads):
    """Those of `libraries` whose thread count can be set to `threads`."""
    return [name for name in libraries if name != "jax" or threads == all_threads]


@contextlib.contextmanager
def thread_count(threads):
    """Run fastnn, numpy's BLAS (with threadpoolctl) and torch on `threads` threads, restoring
    their previous settings afterwards. torch is covered only if imported before the call."""
    previous_fastnn = fastnn.get_num_threads()
    fastnn.set_num_threads(threads)
    torch = sys.modules.get("torch")  # only a torch some step has already imported
    previous_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    threadpoolctl = optional_module("threadpoolctl")
    limiter = (threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
               if threadpoolctl is not None else contextlib.nullcontext())
    try:
        with limiter:
            yield
    finally:
        fastnn.set_num_threads(previous_fastnn)
        if torch is not None:
            torch.set_num_threads(previous_torch)


def gemm_runner(library, a, b, trans_a=False, trans_b=False):
    """A callable computing op(a)·op(b) with `library` into a buffer it keeps, so every library
    is timed on the product alone, without allocation."""
    op_a = a.T if trans_a else a
    op_b = b.T if trans_b else b
    out = np.empty((op_a.shape[0], op_b.shape[1]), dtype=a.dtype)
    if library == "fastnn":
        return partial(fastnn.matmul, a, b, trans_a=trans_a, trans_b=trans_b, out=out)
    if library == "numpy":
        return partial(np.matmul, op_a, op_b, out=out)
    if library == "torch":
        torch = optional_module("torch")
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
        return partial(torch.matmul, ta.T if trans_a else ta, tb.T if trans_b else tb, out=tout)
    if library == "jax":
        jax = optional_module("jax")
        product = jax.jit(lambda x, y: (x.T if trans_a else x) @ (y.T if trans_b else y))
        ja, jb = jax.device_put(a), jax.device_put(b)
        return lambda: product(ja, jb).block_until_ready()
    raise ValueError(f"gemm_runner: unknown library {library!r}")
