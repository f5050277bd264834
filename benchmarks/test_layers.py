"""Linear+ReLU layers and the 784-1024-1024-10 MLP: forward, and backward with and without the
first layer's input gradient (the ratio `python -m fastnn.bench` holds to the FLOP count)."""
import pytest

from fastnn.bench.flops import mlp_backward_flops, mlp_forward_flops
from fastnn.bench.layers import MLPWorkload

from bench_support import record_gflops

CASES = [("layer", [1024, 1024]), ("mlp", [784, 1024, 1024, 10])]


@pytest.mark.parametrize("batch", [16, 256, 1024])
@pytest.mark.parametrize("kind,sizes", CASES, ids=[k for k, _ in CASES])
@pytest.mark.parametrize("pass_", ["forward", "backward", "backward_no_input_grad"])
def test_pass(benchmark, threads, kind, sizes, batch, pass_):
    workload = MLPWorkload(sizes, batch, last_activation="relu" if kind == "layer" else None)
    benchmark.group = f"{kind} {'-'.join(map(str, sizes))} batch {batch} {threads}T"
    if pass_ == "forward":
        benchmark(workload.forward)
        flops = mlp_forward_flops(sizes, batch)
    else:
        need_input_grad = pass_ == "backward"
        benchmark(workload.backward, need_input_grad)
        flops = mlp_backward_flops(sizes, batch, need_input_grad)
    record_gflops(benchmark, flops)
