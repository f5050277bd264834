"""The skinny products of a training step's output layer (1024 -> 10), timed one by one.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 0 python benchmarks/skinny_products.py

For each batch B (`--batches`, default 256 and 1024) and output width n (`--outputs`, default
10), one thread, operands as the compiled step holds them:
    forward      S = H W^T + b          m = B, n, k = 1024  (the dot kernels: few columns)
    input_grad   dX = dS W              m = B, n = 1024, k = n  (a rank-n product)
    weight_grad  W -= lr (momentum SGD of dS^T H)   m = n, n = 1024, k = B  (fused update)
each as the best of `--rounds` rounds of repeated calls on the thread's CPU clock, in ms and as a
share of the measured float32 FMA peak. Between calls of the forward and weight-gradient products
a buffer of `--evict-mib` MiB is read, so that H comes from where a step leaves it (L3) rather
than from L2 (0: every call hot).
"""
import argparse
import sys
import time

import numpy as np

from fastnn import _core
from fastnn.bench import fma_peak_gflops
from fastnn.bench.competitors import thread_count

INPUTS = 1024


def best_seconds(call, rounds, round_seconds, evict):
    call()
    start = time.thread_time()
    call()
    repeats = max(3, int(round_seconds / max(time.thread_time() - start, 1e-6)))
    best = None
    for _ in range(rounds):
        total = 0.0
        for _ in range(repeats):
            if evict is not None:
                evict.sum()
            start = time.thread_time()
            call()
            total += time.thread_time() - start
        best = total / repeats if best is None else min(best, total / repeats)
    return best


def products(batch, outputs, rng):
    h = np.maximum(rng.standard_normal((batch, INPUTS), dtype=np.float32), 0)
    w = rng.standard_normal((outputs, INPUTS), dtype=np.float32) * 0.03
    b = rng.standard_normal(outputs, dtype=np.float32)
    s = np.empty((batch, outputs), np.float32)
    ds = rng.standard_normal((batch, outputs), dtype=np.float32) / batch
    dx = np.empty((batch, INPUTS), np.float32)
    grad = np.empty_like(w)
    buf = np.zeros_like(w)
    flops = 2.0 * batch * outputs * INPUTS
    return {
        "forward": (lambda: _core.gemm(h, w.T, s, bias=b), flops),
        "input_grad": (lambda: _core.gemm(ds, w, dx), flops),
        "weight_grad": (lambda: _core.fused_sgd_weight_step(ds, h, grad, False, w, buf, 1e-6, 0.9,
                                                             0.0, False, 0.0, 0.0, False), flops),
    }


def dot_tiles():
    """The active set's float32 dot tiles (rows x columns of C): the plain one, and the wide one
    that products of a few more columns take (gemm_loop_nest.h: gemm_dot) where the set has it."""
    isa = _core.isa_name()
    tiles = ["%d x %d" % _core._ukernel_shape(isa, "sgemm_dot")]
    try:
        wide = _core._ukernel_shape(isa, "sgemm_dot_wide")
        tiles.append(f"{wide[0]} x {wide[1]} (wide)")
    except ValueError:  # a set without one
        tiles.append("no wide tile")
    return ", ".join(tiles)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--outputs", type=int, nargs="+", default=[10])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--round-seconds", type=float, default=0.05)
    parser.add_argument("--evict-mib", type=float, default=8)
    args = parser.parse_args(argv)
    peak = fma_peak_gflops("float32", runs=30)
    evict = (np.ones(int(args.evict_mib * 2**20 / 4), np.float32) if args.evict_mib > 0
             else None)
    print(f"fastnn ({_core.isa_name()}), one thread; float32 peak {peak:.0f} GFLOP/s (measured); "
          f"ms and % of peak, best of {args.rounds} rounds")
    print(f"forward's dot tiles: {dot_tiles()}")
    rng = np.random.default_rng(0)
    with thread_count(1):
        for batch in args.batches:
            for outputs in args.outputs:
                cells = []
                for name, (call, flops) in products(batch, outputs, rng).items():
                    seconds = best_seconds(call, args.rounds, args.round_seconds,
                                           evict)
                    cells.append(f"{name} {seconds * 1e3:.4f} ({100 * flops / seconds / 1e9 / peak:.0f}%)")
                print(f"B={batch:<5} {INPUTS}->{outputs:<4} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
