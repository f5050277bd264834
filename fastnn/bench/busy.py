"""A busy machine: fastnn's default threads against one thread, while another process spins on
one of the cores (as a compile job or another service would), and with every core free.

What matters to a user is the time a call takes, so both are timed on the wall clock, call by
call, the candidates interleaved; the median says what a user waits, the best what the code can
do. A thread count that works is never much slower than one thread on the busy machine, and close
to `threads` times faster on the free one.
"""
import contextlib
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import fastnn

from .training import fastnn_step

SPINNER = "while True: pass"
MATMUL_N = 2048


@contextlib.contextmanager
def spinning_process(cpu):
    """Another process spinning on `cpu` for the duration of the block."""
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER],
                               preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    try:
        time.sleep(0.2)  # until it runs
        yield spinner
    finally:
        spinner.kill()
        spinner.wait()


def per_call_seconds(candidates, rounds, calls_per_round=3):
    """{name: [seconds of each call]}: every candidate called `calls_per_round` times in turn,
    `rounds` times, after one warm-up call each."""
    times = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            for _ in range(calls_per_round):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return times


def on_threads(fn, threads):
    def run():
        fastnn.set_num_threads(threads)
        fn()
    return run


def workloads(batch, sizes, n):
    """name -> callable: a training step of the MLP `sizes` at `batch`, and an n x n product."""
    step = fastnn_step(sizes, batch)
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    out = np.empty_like(a)
    return {f"training step {'-'.join(map(str, sizes))}, batch {batch}": step,
            f"matmul {n}x{n}x{n} float32": lambda: fastnn.matmul(a, a, out=out)}


def busy_core_case(rounds=5, batch=1024, sizes=(784, 1024, 1024, 10), n=MATMUL_N, threads=None):
    """Rows (condition, workload, seconds on one thread and on `threads`, best and median);
    empty when this process may use fewer than two cores."""
    cpus = sorted(os.sched_getaffinity(0))
    threads = threads or fastnn.get_num_threads()
    if len(cpus) < 2 or threads < 2:
        return []
    previous = fastnn.get_num_threads()
    rows = []
    try:
        for name, fn in workloads(batch, sizes, n).items():
            candidates = {1: on_threads(fn, 1), threads: on_threads(fn, threads)}
            for condition in ("free", "busy"):
                spinner = (spinning_process(cpus[-1]) if condition == "busy"
                           else contextlib.nullcontext())
                with spinner:
                    times = per_call_seconds(candidates, rounds)
                row = {"condition": condition, "workload": name, "threads": threads}
                for count, key in ((1, "one_thread"), (threads, "threads")):
                    row[f"{key}_best_s"] = min(times[count])
                    row[f"{key}_median_s"] = statistics.median(times[count])
                rows.append(row)
    finally:
        fastnn.set_num_threads(previous)
    return rows


def busy_section(rows):
    """The table: for each workload, one thread and the default threads, free and busy."""
    if not rows:
        return "(skipped: needs at least two cores and two threads)"
    threads = rows[0]["threads"]
    lines = [f"Another process spins on one core ('busy') or none ('free'); wall clock, median "
             f"(best) of every call. 'time ratio' is {threads} threads' median time over one "
             f"thread's: below 1 is faster.",
             f"{'workload':<44} {'cores':<5} {'1 thread':>17} {f'{threads} threads':>17} "
             f"{'time ratio':>10}"]
    for row in rows:
        one = f"{row['one_thread_median_s'] * 1e3:.3g} ({row['one_thread_best_s'] * 1e3:.3g}) ms"
        many = f"{row['threads_median_s'] * 1e3:.3g} ({row['threads_best_s'] * 1e3:.3g}) ms"
        ratio = row["threads_median_s"] / row["one_thread_median_s"]
        lines.append(f"{row['workload']:<44} {row['condition']:<5} {one:>17} {many:>17} "
                     f"{ratio:>10.2f}")
    return "\n".join(lines)
