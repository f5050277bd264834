"""Threads and processes: fastnn called from many Python threads at once gives the results it gives
alone, releases the GIL while it computes, and works in child processes, forked or spawned.

About fork: libgomp (GCC's OpenMP runtime) does not survive fork. A child forked from a parent
whose OpenMP threads have run hangs in its first parallel region, because it waits for pool
threads that exist only in the parent. fastnn therefore runs on one thread in a forked child (an
os.register_at_fork hook in fastnn/__init__.py): the child computes correctly and never hangs.
For multi-threaded fastnn in worker processes use the "spawn" or "forkserver" start method of
multiprocessing (or concurrent.futures' mp_context); calling set_num_threads(n > 1) in a forked
child brings the hang back.
"""
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastnn

N_THREADS = 8
ROUNDS = 6


def problems():
    """Products of many sizes and both dtypes: some small (one thread), some above the GEMM's
    parallel threshold (an OpenMP team per call), transposed operands among them."""
    rng = np.random.default_rng(42)
    cases = []
    for i, (m, k, n) in enumerate([(5, 7, 3), (64, 64, 64), (200, 300, 150), (1, 513, 33),
                                   (97, 256, 131), (300, 40, 7), (129, 129, 129), (16, 600, 64)]):
        dtype = np.float32 if i % 2 == 0 else np.float64
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((n, k) if i % 3 == 0 else (k, n)).astype(dtype)
        cases.append((a, b, i % 3 == 0))
    return cases


def run_in_threads(work, n_threads=N_THREADS):
    """work(thread_index) in n_threads threads started together; their results, or the first
    exception re-raised."""
    barrier = threading.Barrier(n_threads)
    results, errors = [None] * n_threads, []

    def body(index):
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]
    return results


def test_threads_calling_matmul_get_the_single_threaded_results():
    cases = problems()
    alone = [fastnn.matmul(a, b, trans_b=t) for a, b, t in cases]

    def work(index):
        # each thread walks the cases from its own starting point, so different sizes, dtypes
        # and packing-buffer sizes are in flight at once
        order = [(index + r) % len(cases) for r in range(ROUNDS * len(cases))]
        return [(j, fastnn.matmul(cases[j][0], cases[j][1], trans_b=cases[j][2])) for j in order]

    for per_thread in run_in_threads(work):
        for j, result in per_thread:
            np.testing.assert_array_equal(result, alone[j])


def test_threads_writing_into_their_own_out_arrays():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((150, 200)).astype(np.float32)
    bs = [rng.standard_normal((200, 90)).astype(np.float32) for _ in range(N_THREADS)]
    alone = [fastnn.matmul(a, b) for b in bs]
    outs = [np.empty((150, 90), np.float32) for _ in range(N_THREADS)]

    def work(index):
        for _ in range(ROUNDS):
            fastnn.matmul(a, bs[index], out=outs[index])
            np.testing.assert_array_equal(outs[index], alone[index])

    run_in_threads(work)


def test_threads_calling_linear_forward_get_the_single_threaded_results():
    nn = pytest.importorskip("fastnn.nn")
    rng = np.random.default_rng(3)
    layers = [nn.Linear(64, 256, rng=1), nn.Linear(300, 10, rng=2, dtype=np.float64),
              nn.Linear(784, 128, rng=3)]
    inputs = [rng.standard_normal((64, 64)).astype(np.float32),
              rng.standard_normal((33, 300)),
              rng.standard_normal((256, 784)).astype(np.float32)]
    alone = [layer.forward(x).copy() for layer, x in zip(layers, inputs)]

    def work(index):
        return [(j, layers[j].forward(inputs[j]).copy())
                for j in [(index + r) % len(layers) for r in range(ROUNDS * len(layers))]]

    for per_thread in run_in_threads(work):
        for j, result in per_thread:
            np.testing.assert_array_equal(result, alone[j])


def test_matmul_releases_the_gil():
    """With the switch interval at 1000 s Python never preempts the calling thread, so a second
    thread can run during the calls only if the C code let go of the GIL."""
    a = np.random.default_rng(0).standard_normal((384, 384)).astype(np.float32)
    started, done = threading.Event(), threading.Event()
    progress = [0]

    def other():
        started.set()
        while not done.is_set():
            progress[0] += 1
            done.wait(0.0005)  # blocks, so hands the GIL back at once

    saved = sys.getswitchinterval()
    thread = threading.Thread(target=other)
    thread.start()
    started.wait()
    try:
        sys.setswitchinterval(1000.0)
        before = progress[0]
        for _ in range(200):
            fastnn.matmul(a, a)
            if progress[0] > before + 1:
                break
        during = progress[0] - before
    finally:
        sys.setswitchinterval(saved)
        done.set()
        thread.join()
    assert during > 1, "no other Python thread ran while matmul computed: the GIL was held"


def run_script(code, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ("FASTNN_ISA", "OMP_NUM_THREADS")}
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the child process hung (killed after {timeout} s):\n{exc.stderr}")


FORK_AFTER_OPENMP = """
    import os, numpy as np, fastnn
    fastnn.set_num_threads(2)  # an OpenMP team runs in the parent before the fork
    a = np.random.default_rng(0).standard_normal((400, 400)).astype(np.float32)
    expected = fastnn.matmul(a, a)
    assert fastnn.get_num_threads() == 2
    pid = os.fork()
    if pid == 0:
        try:
            ok = fastnn.get_num_threads() == 1 and all(
                np.array_equal(fastnn.matmul(a, a), expected) for _ in range(3))
        finally:
            os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    assert fastnn.get_num_threads() == 2  # the parent keeps its setting
    assert np.array_equal(fastnn.matmul(a, a), expected)
    print("ok")
"""


def test_forked_child_after_openmp_work_does_not_hang():
    result = run_script(FORK_AFTER_OPENMP, timeout=60)
    assert result.returncode == 0 and result.stdout.split() == ["ok"], result.stderr


MULTIPROCESSING = """
    import multiprocessing as mp, sys, numpy as np, fastnn
    method = sys.argv[1] if len(sys.argv) > 1 else {method!r}
    a = np.random.default_rng(1).standard_normal((300, 500)).astype(np.float32)
    b = np.random.default_rng(2).standard_normal((500, 200)).astype(np.float32)
    expected = fastnn.matmul(a, b)  # the parent has run OpenMP work
    if __name__ == "__main__":
        with mp.get_context(method).Pool(2) as pool:
            results = pool.starmap(fastnn.matmul, [(a, b)] * 4)
            threads = pool.apply(fastnn.get_num_threads)
        assert all(np.array_equal(r, expected) for r in results)
        print(threads)
"""


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_workers(method):
    """Pool workers of every start method compute the parent's results; spawned and forkserver
    workers keep OpenMP (the documented way to use threads in workers), forked ones use one
    thread."""
    if method not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    result = run_script(MULTIPROCESSING.format(method=method), timeout=120)
    assert result.returncode == 0, result.stderr
    threads = int(result.stdout.split()[-1])
    if method == "fork":
        assert threads == 1
    else:
        assert threads == (len(os.sched_getaffinity(0)) if fastnn.cpu_info()["openmp"] else 1)
