"""The GEMMs of the 784-1024-1024-10 MLP's training step, one core, fastnn against numpy and torch.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 0 python benchmarks/gemm_shapes.py

(`taskset -c 0` keeps every library on one core; unsetting the two OpenBLAS variables lets numpy
run its own AVX-512 kernels.) For each product the step runs at B = 256 and 1024 (forward
X W^T, input gradient dS W, weight gradient dS^T X, in the layout the compiled step uses), and
for the bf16 products at n = 1024 (`--bf16`), prints GFLOP/s as a share of the measured peak,
each figure the best of interleaved rounds on the process's CPU clock, and the noise: how much
slower the median round was than the best.
"""
import argparse
import gc
import math
import statistics
import sys
import time
from functools import partial

import numpy as np

import fastnn
from fastnn import _core
from fastnn.bench import fma_peak_gflops
from fastnn.bench.bf16 import (BAR_PERCENT_OF_PEAK, FLOAT32_INPUT, LIKE_FOR_LIKE, bf16_peak_gflops,
                               bf16_runners)
from fastnn.bench.competitors import available_libraries, gemm_runner, numpy_blas, thread_count
from fastnn.bench.flops import gemm_flops, step_products
from fastnn.bench.gemm import GEMM_FORMS, gemm_operands

SIZES = [784, 1024, 1024, 10]


def rounds_of(candidates, rounds, round_seconds):
    """Every round's seconds per call of each callable, timed in turn within each round."""
    repeats = {}
    for name, fn in candidates.items():
        fn()
        start = time.process_time()
        fn()
        repeats[name] = max(1, math.ceil(round_seconds / max(time.process_time() - start, 1e-9)))
    times = {name: [] for name in candidates}
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in candidates.items():
                start = time.process_time()
                for _ in range(repeats[name]):
                    fn()
                times[name].append((time.process_time() - start) / repeats[name])
    finally:
        gc.enable()
    return times


def report(label, flops, times, peak, reference):
    """One line: each runner's GFLOP/s and % of peak at its best round, noise, and ratios; returns
    each runner's best seconds."""
    best = {name: min(t) for name, t in times.items()}
    noise = max(statistics.median(t) / min(t) - 1 for t in times.values())
    cells = "".join(f"{flops / best[n] * 1e-9:8.1f} {100 * flops / best[n] * 1e-9 / peak:3.0f}%"
                    for n in times)
    ratios = "".join(f"{best[n] / best[reference]:13.2f}x" for n in times if n != reference)
    print(f"{label:<36}{cells}{ratios}   {100 * noise:4.1f}%")
    return best


def header(names, reference, short=None):
    short = short or {n: n.split()[0] for n in names}
    print(f"{'product (m x n x k)':<36}" + "".join(f"{short[n]:>13}" for n in names)
          + "".join(f"{short[n] + '/' + short[reference]:>14}" for n in names if n != reference)
          + "   noise")


def float32_table(batches, libraries, peak, rounds, round_seconds):
    names = [lib for lib in ("fastnn", "numpy", "torch") if lib in libraries]
    print(f"\nfloat32, GFLOP/s and % of the {peak:.0f} GFLOP/s peak; peer/fastnn = time ratio "
          f"(> 1: fastnn faster); noise = median round / best round - 1 (worst runner)")
    header(names, "fastnn")
    rng = np.random.default_rng(0)
    total = {}
    for batch in batches:
        for name, m, n, k, form in step_products(SIZES, batch):
            a, b = gemm_operands(m, n, k, form, np.float32, rng)
            trans_a, trans_b = GEMM_FORMS[form]
            runners = {lib: gemm_runner(lib, a, b, trans_a, trans_b) for lib in names}
            times = rounds_of(runners, rounds, round_seconds)
            report(f"B={batch:<5}{name:<15}{m}x{n}x{k}", gemm_flops(m, n, k), times, peak, "fastnn")
            for lib in names:
                total.setdefault((batch, lib), 0.0)
                total[(batch, lib)] += min(times[lib])
        flops = sum(gemm_flops(m, n, k) for _, m, n, k, _ in step_products(SIZES, batch))
        cells = "".join(f"{flops / total[(batch, lib)] * 1e-9:8.1f} "
                        f"{100 * flops / total[(batch, lib)] * 1e-9 / peak:3.0f}%" for lib in names)
        print(f"{'B=' + str(batch) + ' all products':<36}{cells}")


def bf16_table(n, libraries, peak, rounds, round_seconds):
    print(f"\nbf16 at n={n}, GFLOP/s and % of the {peak:.0f} GFLOP/s bf16 peak: fastnn "
          f"matmul(precision='bf16') on bf16 operands (fastnn.to_bf16, converted once, as "
          f"torch's are: bf16in) and on float32 arrays (rounded while packed: fp32in); "
          f"torch.matmul on bf16 tensors; x/bf16in = time ratio (> 1: bf16in faster)")
    wanted = [lib for lib in ("fastnn", "torch") if lib in libraries]
    names = [LIKE_FOR_LIKE, FLOAT32_INPUT] + (["torch bf16"] if "torch" in wanted else [])
    short = {LIKE_FOR_LIKE: "bf16in", FLOAT32_INPUT: "fp32in", "torch bf16": "torch"}
    header(names, LIKE_FOR_LIKE, short)
    verdicts = []
    for form in GEMM_FORMS:
        a, b = gemm_operands(n, n, n, form, np.float32, np.random.default_rng(0))
        trans_a, trans_b = GEMM_FORMS[form]
        runners = bf16_runners(a, b, trans_a, trans_b, wanted)
        runners = {name: runners[name] for name in names}
        times = rounds_of(runners, rounds, round_seconds)
        best = report(f"{form} {n}x{n}x{n}", gemm_flops(n, n, n), times, peak, LIKE_FOR_LIKE)
        share = 100 * gemm_flops(n, n, n) / best[LIKE_FOR_LIKE] * 1e-9 / peak
        versus = best["torch bf16"] / best[LIKE_FOR_LIKE] if "torch bf16" in best else None
        met = share >= BAR_PERCENT_OF_PEAK and (versus is None or versus >= 1)
        verdicts.append(f"{form} {'met' if met else 'NOT met'} ({share:.0f}%"
                        + (f", {versus:.3f}x torch)" if versus is not None else ")"))
    print(f"bar (fastnn on bf16 operands >= {BAR_PERCENT_OF_PEAK}% of the bf16 peak and >= "
          f"torch): " + "; ".join(verdicts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--round-seconds", type=float, default=0.05)
    parser.add_argument("--bf16", action="store_true", help="also the bf16 products at n=1024")
    parser.add_argument("--bf16-only", action="store_true", help="only the bf16 products")
    args = parser.parse_args(argv)
    libraries = available_libraries(("fastnn", "numpy", "torch"))
    if "torch" in libraries:
        import torch  # noqa: F401  (imported before thread_count, which then sets its threads)
    peak = fma_peak_gflops("float32", runs=50)
    print(f"fastnn {fastnn.__version__} ({_core.isa_name()}); numpy's BLAS {numpy_blas()}; "
          f"one core's float32 peak {peak:.1f} GFLOP/s (measured)")
    with thread_count(1):
        if not args.bf16_only:
            float32_table(args.batches, libraries, peak, args.rounds, args.round_seconds)
        if args.bf16 or args.bf16_only:
            peak_bf16 = bf16_peak_gflops()
            if peak_bf16 is None:
                print("\nno AVX512-BF16 here: bf16 products run on the float32 kernels")
            else:
                bf16_table(1024, libraries, peak_bf16, args.rounds, args.round_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
