"""Kernels keep large scratch off the stack: a compiled step runs in a thread with the smallest
stack Python allows (32 KiB), at batch 1 with its input off a cache line (the first layer's input
then goes through the plan's aligned copy, csrc/plan.h: input_line) and at a few-row batch. Each
run is in a child process, so that a stack overflow fails the test instead of killing pytest."""
import subprocess
import sys

import pytest

from support import fastnn_env

STEP_IN_SMALL_STACK = """
import sys, threading
import numpy as np
from fastnn import nn, optim
dtype = np.dtype(sys.argv[1])
model = nn.Sequential(nn.Linear(3000, 8, dtype=dtype, rng=0), nn.ReLU(),
                      nn.Linear(8, 3, dtype=dtype, rng=1))
step = model.compile_step(nn.CrossEntropyLoss(),
                          optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
def run():
    for rows in (1, 3):
        raw = np.full(3000 * rows + 16, 0.5, dtype)
        x = raw[1:1 + 3000 * rows].reshape(rows, 3000)  # one element past the buffer's start
        assert x.ctypes.data % 64
        for _ in range(2):
            step(x, np.ones(rows, np.int64))
    print("stepped", flush=True)
threading.stack_size(32 * 1024)
thread = threading.Thread(target=run)
thread.start()
thread.join()
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_step_runs_in_a_32_kib_thread_stack(dtype):
    done = subprocess.run([sys.executable, "-c", STEP_IN_SMALL_STACK, dtype], env=fastnn_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "stepped", (done.returncode,
                                                                      done.stderr[-2000:])
