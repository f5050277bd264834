"""One SGD-with-momentum training step of the 784-1024-1024-10 classifier: fastnn.nn beside a
hand-written numpy step, torch and jax."""
import pytest

from fastnn.bench.flops import mlp_backward_flops, mlp_forward_flops
from fastnn.bench.training import STEPS

from bench_support import ALL_THREADS, record_gflops, require

SIZES = [784, 1024, 1024, 10]


@pytest.mark.parametrize("library", list(STEPS))
@pytest.mark.parametrize("batch", [16, 256])
def test_step(benchmark, threads, batch, library):
    require(library)
    if library == "jax" and threads != ALL_THREADS:
        pytest.skip("jax fixes its thread pool at start-up")
    benchmark.group = f"training step {'-'.join(map(str, SIZES))} batch {batch} {threads}T"
    benchmark(STEPS[library](SIZES, batch))
    record_gflops(benchmark, mlp_forward_flops(SIZES, batch)
                  + mlp_backward_flops(SIZES, batch, need_input_grad=False))
