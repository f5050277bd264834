"""pytest-benchmark cases for fastnn: `pytest benchmarks/ --benchmark-only`.

They time the same operations as `python -m fastnn.bench` (the workloads are imported from it),
so the two agree; compare saved runs with `--benchmark-autosave` and `pytest-benchmark compare`.
Each case runs with one thread and with all threads (the `threads` parameter); GFLOP/s, from the
fastest round, is in each case's extra_info, and summed up after pytest-benchmark's tables.
As in `python -m fastnn.bench`, one-thread cases are timed by the process's CPU clock (immune to
other processes on a shared machine) and all-thread cases by the wall clock.
"""
import os

import pytest

import fastnn
from fastnn.bench.competitors import thread_count
from fastnn.bench.timing import clock_for

from bench_support import ALL_THREADS, GFLOPS, THREADS


def pytest_configure(config):
    # Benchmarks of a multi-threaded library measure nothing useful under xdist's parallelism.
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("run the benchmarks without -n (pytest-xdist)")


def _threads_param(n):
    marks = [pytest.mark.benchmark(timer=clock_for(n))] if n == 1 else []
    return pytest.param(n, marks=marks, id=f"{n}T")


@pytest.fixture(params=[_threads_param(n) for n in THREADS])
def threads(request):
    """Run the case with fastnn, numpy's BLAS and torch on this many threads."""
    with thread_count(request.param):
        yield request.param


def pytest_report_header(config):
    info = fastnn.cpu_info()
    return (f"fastnn: isa={info['isa']} threads={ALL_THREADS} cpu={info['brand']!r} "
            f"(OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's tables
def pytest_terminal_summary(terminalreporter):
    """GFLOP/s of every case, which pytest-benchmark's own table (times only) leaves out."""
    if not GFLOPS:
        return
    terminalreporter.section("GFLOP/s (fastest round)")
    width = max(len(name) for name, _ in GFLOPS)
    for name, gflops in GFLOPS:
        terminalreporter.write_line(f"{name:<{width}}  {gflops:8.1f}")
