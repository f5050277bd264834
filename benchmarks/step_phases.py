"""Where the compiled training step's time goes, phase by phase, against issue 9's 88% bar.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 0 python benchmarks/step_phases.py

One SGD-momentum step of the 784-1024-1024-10 ReLU MLP (softmax cross-entropy, first layer
without input gradient, model.compile_step) on one thread, at B = 256 and 1024 (`--batches`).
With the step's phase timers on (fastnn._core.step_phases; each phase of each layer timed on the
thread's CPU clock, which a descheduled thread does not advance), prints for each layer its
forward, delta (activation derivative and bias gradient), input-gradient and weight-gradient
products and the optimizer's pass over the weight, each in ms and, for the products, as a share
of the measured FMA peak; then the products together, everything outside them, and what 88% of
the FLOP limit leaves for that rest at the products' measured rate. Figures are from the round
(of several) whose steps took least in all; the step's time with the timers off, taken in the
same rounds, shows what the timers cost.
"""
import argparse
import sys
import time

import numpy as np

from fastnn import _core
from fastnn.bench import fma_peak_gflops
from fastnn.bench.machine import ukernel_gflops
from fastnn.bench.competitors import thread_count
from fastnn.bench.training import fastnn_step

SIZES = [784, 1024, 1024, 10]
BAR = 0.88


def product_flops(sizes, batch, layer, phase):
    """FLOPs of `phase`'s product of Linear `layer` (0 for the phases that are not products)."""
    if phase not in ("forward", "input_grad", "weight_grad"):
        return 0
    if phase == "input_grad" and layer == 0:
        return 0
    return 2 * batch * sizes[layer] * sizes[layer + 1]


def measure(batch, rounds, round_seconds):
    """(per-step seconds of every phase as a (phases, layers) array, per-step seconds with the
    timers off), from the best of `rounds` rounds."""
    step = fastnn_step(SIZES, batch)
    step()
    start = time.thread_time()
    step()
    repeats = max(2, int(round_seconds / max(time.thread_time() - start, 1e-6)))
    best_total, best_phases, best_plain = None, None, None
    for _ in range(rounds):
        step()  # untimed: the round starts with the step's data where the last step left it
        start = time.thread_time()
        for _ in range(repeats):
            step()
        plain = (time.thread_time() - start) / repeats
        _core.step_phases(True)
        try:
            for _ in range(repeats):
                step()
            phases = _core.step_phase_seconds()[:, :len(SIZES) - 1] / repeats
        finally:
            _core.step_phases(False)
        if best_total is None or phases.sum() < best_total:
            best_total, best_phases = phases.sum(), phases
        best_plain = plain if best_plain is None else min(best_plain, plain)
    return best_phases, best_plain


def report(batch, phases, plain, peak):
    names = _core.STEP_PHASE_NAMES
    total_flops = sum(product_flops(SIZES, batch, layer, name)
                      for layer in range(len(SIZES) - 1) for name in names)
    print(f"\nB={batch}: phases in ms (% = the product's GFLOP/s / {peak:.0f} GFLOP/s peak)")
    print(f"{'layer':<14}" + "".join(f"{name:>17}" for name in names))
    products = 0.0
    for layer in range(len(SIZES) - 1):
        cells = []
        for k, name in enumerate(names):
            seconds, flops = phases[k, layer], product_flops(SIZES, batch, layer, name)
            if flops:
                products += seconds
                cells.append(f"{seconds * 1e3:9.3f} {100 * flops / seconds / 1e9 / peak:5.1f}%")
            else:
                cells.append(f"{seconds * 1e3:9.3f}      " if seconds else f"{'-':>9}      ")
        print(f"{SIZES[layer]}->{SIZES[layer + 1]:<8}" + "".join(f"{c:>17}" for c in cells))
    total = phases.sum()
    rest = total - products
    limit = total_flops / (peak * 1e9)
    product_share = limit / products
    room = limit / BAR - products
    print(f"  step (sum of phases) {total * 1e3:.3f} ms = {100 * limit / total:.1f}% of the FLOP "
          f"limit; with the timers off {plain * 1e3:.3f} ms = {100 * limit / plain:.1f}%")
    print(f"  products {products * 1e3:.3f} ms at {100 * product_share:.1f}% of peak; outside them "
          f"(loss, delta passes, optimizer passes) {rest * 1e3:.3f} ms "
          f"({100 * rest / total:.1f}% of the step)")
    print(f"  {100 * BAR:.0f}% of the FLOP limit is {limit / BAR * 1e3:.3f} ms: at the products' rate "
          f"that leaves {room * 1e3:.3f} ms for the rest (it takes {rest * 1e3:.3f}); with the rest "
          f"as it is the products need {100 * limit / (limit / BAR - rest):.1f}% of peak")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--round-seconds", type=float, default=0.1)
    args = parser.parse_args(argv)
    peak = fma_peak_gflops("float32", runs=30)
    kernel = ukernel_gflops(runs=30)
    print(f"fastnn ({_core.isa_name()}), one thread; one core's float32 peak {peak:.0f} GFLOP/s "
          f"(measured); {'-'.join(map(str, SIZES))} SGD-momentum step, model.compile_step")
    print(f"the GEMM micro-kernel alone on panels in L1: {kernel:.0f} GFLOP/s = "
          f"{100 * kernel / peak:.1f}% of that peak (no product runs faster)")
    with thread_count(1):
        for batch in args.batches:
            phases, plain = measure(batch, args.rounds, args.round_seconds)
            report(batch, phases, plain, peak)
    return 0


if __name__ == "__main__":
    sys.exit(main())
