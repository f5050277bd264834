"""pytest-benchmark cases for fastnn: `pytest benchmarks/ --benchmark-only`.

They time the same operations as `python -m fastnn.bench` (the workloads are imported from it),
so the two agree; compare saved runs with `--benchmark-autosave` and `pytest-benchmark compare`.
Each case runs with one thread and with all threads (the `threads` parameter); GFLOP/s, from the
fastest round, is in each case's extra_info. pytest-benchmark times by the wall clock, where
`python -m fastnn.bench` times one-thread work by the CPU clock: on a quiet machine the two agree,
on a busy one the benchmark's minimum needs its many rounds to find an undisturbed one.
"""
import os

import pytest

import fastnn
from fastnn.bench.competitors import thread_count

from bench_support import ALL_THREADS, GFLOPS, THREADS


def pytest_configure(config):
    # Benchmarks of a multi-threaded library measure nothing useful under xdist's parallelism.
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("run the benchmarks without -n (pytest-xdist)")


@pytest.fixture(params=THREADS, ids=lambda n: f"{n}T")
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
