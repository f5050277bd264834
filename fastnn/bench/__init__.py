"""fastnn's benchmark: `python -m fastnn.bench` (or `fastnn-bench`).

It measures, on the machine it runs on: one core's FMA peak (a C probe of independent FMA
chains), the GEMM's GFLOP/s and % of that peak beside numpy (and torch and jax when installed),
the backward/forward time ratio of layers and MLPs against the ratio the FLOP count predicts, and
a training step against hand-written numpy, torch and jax.

    >>> import fastnn.bench
    >>> fastnn.bench.predicted_backward_ratio([784, 1024, 1024, 10])
    2.0
"""
from .flops import (gemm_flops, linear_flops, mlp_backward_flops, mlp_forward_flops,
                    predicted_backward_ratio)
from .machine import describe_machine, fma_peak_gflops
from .timing import interleaved_best

__all__ = ["fma_peak_gflops", "describe_machine", "predicted_backward_ratio", "mlp_forward_flops",
           "mlp_backward_flops", "linear_flops", "gemm_flops", "interleaved_best", "main"]


def main(argv=None):
    """Run the benchmark with command-line arguments `argv` (see `python -m fastnn.bench -h`)."""
    from .__main__ import main as run
    return run(argv)
