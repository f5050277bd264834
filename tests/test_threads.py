"""fastnn's worker threads (csrc/thread_pool.c): helpers take part in large products, results do not
depend on the thread count, per-thread packing buffers die with their threads, a long product
stops for Ctrl-C, and a forked child may use threads again."""
import os
import threading

import numpy as np
import pytest

import fastnn
from fastnn import _core

from test_concurrency import run_script
from test_memory import GROWTH_LIMIT, needs_plain_process, resident_bytes

needs_two_threads = pytest.mark.skipif(
    not fastnn.cpu_info()["openmp"], reason="built without OpenMP: one thread only")


@needs_two_threads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(600, 500, 700), (1000, 700, 16), (9, 2000, 1500)])
def test_every_thread_count_sums_alike(dtype, shape):
    m, k, n = shape
    rng = np.random.default_rng(5)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((n, k)).astype(dtype)
    previous = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        alone = fastnn.matmul(a, b, trans_b=True)
        results = []
        for threads in (2, 3, 5):
            fastnn.set_num_threads(threads)
            for _ in range(3):
                results.append(fastnn.matmul(a, b, trans_b=True))
    finally:
        fastnn.set_num_threads(previous)
    for result in results:
        np.testing.assert_array_equal(result, alone)
    np.testing.assert_allclose(alone, a.astype(np.float64) @ b.T.astype(np.float64),
                               rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-3 if dtype == np.float32 else 1e-10)


@needs_two_threads
def test_helpers_take_part_in_a_large_product():
    # whether a helper wakes before the caller has taken every unit depends on the scheduler: a
    # product of tens of milliseconds, asked for a few times, leaves it time even on a busy machine
    rng = np.random.default_rng(6)
    a = rng.standard_normal((1500, 1500)).astype(np.float32)
    previous = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(2)
        _, helpers_before = _core.unit_counts()
        for _ in range(20):
            fastnn.matmul(a, a)
            if _core.unit_counts()[1] > helpers_before:
                break
        assert _core.unit_counts()[1] > helpers_before, "no helper ran a unit on 2 threads"
    finally:
        fastnn.set_num_threads(previous)


@needs_two_threads
def test_elementwise_passes_on_threads_match_one_thread():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((700, 1001)).astype(np.float32)  # above the elementwise threshold
    previous = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(1)
        alone = [fastnn.functional.gelu(x), fastnn.functional.softmax(x)]
        fastnn.set_num_threads(4)
        threaded = [fastnn.functional.gelu(x), fastnn.functional.softmax(x)]
    finally:
        fastnn.set_num_threads(previous)
    for one, many in zip(alone, threaded):
        np.testing.assert_array_equal(one, many)


@needs_plain_process
def test_short_lived_threads_leave_no_packing_buffers_behind():
    """Each thread's first product allocates its packing buffer (over half a megabyte, whatever the
    product's size); a thread-specific key frees it when the thread exits. Leaked, 10,000 threads
    would hold gigabytes."""
    a = np.ones((8, 8), np.float32)
    expected = a @ a
    failures = []

    def work():
        if not np.array_equal(fastnn.matmul(a, a), expected):
            failures.append(1)

    def run_threads(count, at_once=8):
        for _ in range(count // at_once):
            threads = [threading.Thread(target=work) for _ in range(at_once)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    run_threads(400)  # the allocator's per-thread arenas and caches settle
    before = resident_bytes()
    run_threads(10_000)
    growth = resident_bytes() - before
    assert not failures
    assert growth < GROWTH_LIMIT, f"RSS grew by {growth / 2**20:.1f} MiB over 10,000 threads"


INTERRUPTED_PRODUCT = """
    import os, signal, threading, time, numpy as np, fastnn
    from fastnn import _core
    fastnn.set_num_threads({threads})
    a = np.ones((2200, 2200), np.float32)
    raises = {raises}
    def handler(signum, frame):
        if raises:
            raise KeyboardInterrupt
    signal.signal(signal.SIGINT, handler)
    def units_run():
        return sum(_core.unit_counts())
    start = units_run()
    def interrupt_once_started():
        while units_run() == start:  # the product has begun: send Ctrl-C to ourselves
            time.sleep(0.0005)
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=interrupt_once_started, daemon=True).start()
    try:
        c = fastnn.matmul(a, a)
        outcome = "finished " + str(bool((c == 2200).all()))
    except KeyboardInterrupt:
        outcome = "interrupted"
    print(outcome, units_run() - start)
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_stops_a_long_product(threads):
    """2200^3 is split in 5 or more units even on one thread; the main thread runs Python's
    signal handlers between them, so KeyboardInterrupt stops the product before its last unit."""
    result = run_script(INTERRUPTED_PRODUCT.format(threads=threads, raises=True), timeout=120)
    assert result.returncode == 0, result.stderr
    outcome, ran = result.stdout.split()
    assert outcome == "interrupted"
    full = run_script(INTERRUPTED_PRODUCT.format(threads=threads, raises=False), timeout=120)
    assert full.returncode == 0, full.stderr
    full_outcome, full_ran = full.stdout.rsplit(maxsplit=1)
    # a handler that does not raise lets the product finish, and correctly
    assert full_outcome == "finished True"
    assert 0 < int(ran) < int(full_ran)


FORKED_CHILD_WITH_THREADS = """
    import os, numpy as np, fastnn
    from fastnn import _core
    a = np.random.default_rng(0).standard_normal((500, 400)).astype(np.float32)
    fastnn.set_num_threads(2)
    expected = fastnn.matmul(a, a.T)  # the parent's helpers have run
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            fastnn.set_num_threads(2)  # helpers do not survive fork: the child starts its own
            ok = all(np.array_equal(fastnn.matmul(a, a.T), expected) for _ in range(5))
            ok = ok and np.array_equal(fastnn.functional.relu(np.tile(a, (2, 2))),
                                       np.maximum(np.tile(a, (2, 2)), 0))
        finally:
            os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_forked_child_may_use_threads_again():
    result = run_script(FORKED_CHILD_WITH_THREADS, timeout=60)
    assert result.returncode == 0 and result.stdout.split() == ["ok"], result.stderr


@needs_two_threads
def test_idle_helpers_sleep():
    """After the last call, helpers watch for work for 50 us and then sleep: an idle process uses
    no CPU. Many short parallel calls give a helper every chance to arrive after the caller has
    already run all the units (it must then wait for the next call, not for this one again)."""
    import time
    a = np.random.default_rng(0).standard_normal((128, 256)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((256, 256)).astype(np.float32)
    previous = fastnn.get_num_threads()
    try:
        fastnn.set_num_threads(2)
        for _ in range(500):  # 8M multiply-adds each: just above the parallel threshold
            fastnn.matmul(a, b)
        start = time.process_time()
        time.sleep(0.5)
        busy = time.process_time() - start
    finally:
        fastnn.set_num_threads(previous)
    assert busy < 0.05, f"{busy:.3f} s of CPU used while idle for 0.5 s"
