"""Helpers of the benchmark cases (a module of its own: tests/ has a `support` of its own, and
conftest modules are not meant to be imported)."""
import pytest

import fastnn
from fastnn.bench.competitors import optional_module

ALL_THREADS = fastnn.get_num_threads()
THREADS = sorted({1, ALL_THREADS})
# Imported now, so that the `threads` fixture sets their thread counts too.
COMPETITORS = {name: optional_module(name) for name in ("torch", "jax")}
# (case name, GFLOP/s) of every case run, for the summary at the end of the session.
GFLOPS = []


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
        GFLOPS.append((benchmark.name, benchmark.extra_info["gflops"]))
