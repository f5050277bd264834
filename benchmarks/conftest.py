"""pytest-benchmark cases for fastnn: `pytest benchmarks/ --benchmark-only`.

They time the same operations as `python -m fastnn.bench` (the workloads are imported from it),
so the two agree; compare saved runs with `--benchmark-autosave` and `pytest-benchmark compare`.
Each case runs with one thread and with all threads (the `threads` parameter); GFLOP/s, from the
fastest round, is in each case's extra_info.
"""
import os

import pytest

import fastnn
from fastnn.bench.competitors import optional_module, thread_count

ALL_THREADS = fastnn.get_num_threads()
# Imported now, so that the `threads` fixture sets their thread counts too.
COMPETITORS = {name: optional_module(name) for name in ("torch", "jax")}
THREADS = sorted({1, ALL_THREADS})


def pytest_configure(config):
    # Benchmarks of a multi-threaded library measure nothing useful under xdist's parallelism.
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("run the benchmarks without -n (pytest-xdist)")


@pytest.fixture(params=THREADS, ids=lambda n: f"{n}T")
def threads(request):
    """Run the case with fastnn, numpy's BLAS and torch on this many threads."""
    with thread_count(request.param):
        yield request.param


def require(library):
    """Skip the case when `library` (torch, jax) is not installed."""
    if library in ("fastnn", "numpy"):
        return
    if COMPETITORS.get(library) is None:
        pytest.skip(f"{library} is not installed")


def record_gflops(benchmark, flops):
    """Put the FLOP count and GFLOP/s of the fastest round into the case's extra_info."""
    benchmark.extra_info["flops"] = flops
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None and stats.stats.min > 0:
        benchmark.extra_info["gflops"] = round(flops / stats.stats.min * 1e-9, 2)


def pytest_report_header(config):
    info = fastnn.cpu_info()
    return (f"fastnn: isa={info['isa']} threads={ALL_THREADS} cpu={info['brand']!r} "
            f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")
