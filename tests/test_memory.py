"""Memory: a request too large for the machine raises MemoryError, never crashes the process; and
repeated work (products, training steps) does not grow the process.

Growth is measured as the resident set size (/proc/self/statm) after a warm-up, which has
allocated every buffer that is meant to persist (thread-local packing buffers, the OpenMP pool).
"""
import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastnn

STATM = Path("/proc/self/statm")
GROWTH_LIMIT = 5 * 2**20


def under_address_sanitizer():
    """ASan reserves terabytes of shadow memory and quarantines freed blocks: neither address
    space limits nor RSS mean here what they mean in a normal process."""
    try:
        return "libasan" in Path("/proc/self/maps").read_text()
    except OSError:
        return False


needs_plain_process = pytest.mark.skipif(
    not STATM.exists() or under_address_sanitizer(),
    reason="needs /proc/self/statm and a process without AddressSanitizer")


def resident_bytes():
    return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth_over(step, steps, warmup):
    for _ in range(warmup):
        step()
    gc.collect()
    before = resident_bytes()
    for _ in range(steps):
        step()
    gc.collect()
    return resident_bytes() - before


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_b", [False, True])
def test_result_larger_than_any_address_space_raises_memory_error(dtype, trans_b):
    """A 10^7 x 10^7 product needs 400-800 TB, beyond x86-64's 128 TiB of user address space, so
    the allocation fails under every overcommit policy. The operands are broadcast views (zero
    strides) and take no memory."""
    big = 10**7
    a = np.broadcast_to(np.ones((1, 1), dtype), (big, 1))
    b = np.broadcast_to(np.ones((1, 1), dtype), (big, 1) if trans_b else (1, big))
    with pytest.raises(MemoryError):
        fastnn.matmul(a, b, trans_b=trans_b)
    # and the library still works afterwards
    np.testing.assert_array_equal(fastnn.matmul(np.ones((2, 3), dtype), np.ones((3, 2), dtype)),
                                  np.full((2, 2), 3, dtype))


PACKING_BUFFER_FAILURE = """
    import ctypes, re, resource, numpy as np, fastnn
    # Large blocks from mmap, so a freed array leaves no gap in the heap for the buffer to fill
    ctypes.CDLL(None).mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD
    # large enough that every kernel set packs more than the 128 KiB left (the GEMM sizes its
    # buffer by the product); small integers keep the sums exact
    a = (np.arange(256 * 256) % 7).astype(np.{dtype}).reshape(256, 256)
    expected = a.astype(np.float64) @ a
    out = np.empty((256, 256), np.{dtype})
    fastnn.set_num_threads(1)  # the caller's own buffer, not a worker's

    def virtual_bytes():
        status = open("/proc/self/status").read()
        return int(re.search(r"VmSize:\\s+(\\d+) kB", status).group(1)) * 1024

    # No product has run in this process, so no packing buffer exists yet, and the limit leaves
    # 128 KiB of address space.
    ctypes.CDLL(None).malloc_trim(0)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (virtual_bytes() + 128 * 1024, hard))
    try:
        fastnn.matmul(a, a, out=out)
        outcome = "computed"
    except MemoryError as exc:
        outcome = "MemoryError" if "packing" in str(exc) else "other MemoryError: %s" % exc
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    recovered = np.array_equal(fastnn.matmul(a, a, out=out), expected)
    print(outcome, recovered)
"""


@needs_plain_process
@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_packing_buffer_allocation_failure_raises_memory_error(dtype):
    """With the address space capped, the GEMM cannot allocate its packing buffer: matmul raises
    MemoryError (not a crash, not garbage), and works again once memory is available."""
    pytest.importorskip("resource")
    env = {k: v for k, v in os.environ.items() if k != "FASTNN_ISA"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PACKING_BUFFER_FAILURE.format(dtype=dtype))],
        capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["MemoryError", "True"]


@needs_plain_process
def test_repeated_products_do_not_grow_the_process():
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))
             for (m, k, n), dtype in [((64, 64, 256), np.float32), ((70, 90, 40), np.float64),
                                      ((1, 300, 3), np.float32), ((33, 257, 17), np.float64)]]
    outs = [np.empty((a.shape[0], b.shape[1]), a.dtype) for a, b in cases]

    def step():
        for (a, b), out in zip(cases, outs):
            fastnn.matmul(a, b)
            fastnn.matmul(a, b, out=out)
            fastnn.matmul(b, a, trans_a=True, trans_b=True)

    assert growth_over(step, steps=1000, warmup=50) < GROWTH_LIMIT


@needs_plain_process
def test_training_steps_do_not_grow_the_process():
    """1,000 SGD-momentum steps of the digits MLP (64-256-256-10, ReLU, cross-entropy) at batch
    64 on random data."""
    nn = pytest.importorskip("fastnn.nn")
    optim = pytest.importorskip("fastnn.optim")
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(64, 256, rng=0), nn.ReLU(), nn.Linear(256, 256, rng=1),
                          nn.ReLU(), nn.Linear(256, 10, rng=2))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = [(rng.standard_normal((64, 64)).astype(np.float32), rng.integers(0, 10, 64))
               for _ in range(16)]
    position = [0]

    def step():
        x, y = batches[position[0] % len(batches)]
        position[0] += 1
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()
        assert np.isfinite(loss)

    assert growth_over(step, steps=1000, warmup=100) < GROWTH_LIMIT
