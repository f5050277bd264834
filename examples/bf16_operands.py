"""bf16 operands kept between calls: a weight converted once, multiplied by many batches.

`fastnn.matmul(x, w, precision="bf16")` on a float32 w rounds it to bfloat16 on every call.
`fastnn.to_bf16(w)` rounds it once and keeps it in bf16 (a `fastnn.BF16Array`, numpy only; an
`ml_dtypes.bfloat16` array works the same where ml_dtypes is installed): each call then reads half
the bytes, and gives the same bits. Prints both timings, best of a few rounds, on one thread.

    python examples/bf16_operands.py
    python examples/bf16_operands.py --size 512 --rounds 3
"""
import argparse
import time

import numpy as np

import fastnn


def best_seconds(run, rounds, calls):
    """The best of `rounds` rounds of `calls` calls, per call."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1024, help="n of the n x n x n product")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n)).astype(np.float32)
    w = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)  # (out, in), as a Linear

    w_bf16 = fastnn.to_bf16(w)  # rounded once, half the bytes: kept between calls
    x_bf16 = fastnn.to_bf16(x)
    print(f"{n} x {n} weight: float32 {w.nbytes >> 10} KiB, bf16 {w_bf16.nbytes >> 10} KiB")

    # X W^T, as a Linear's forward: the same bits whichever way the operands arrive
    out = np.empty((n, n), np.float32)
    rounded_each_call = fastnn.matmul(x, w, trans_b=True, precision="bf16")
    stored = fastnn.matmul(x_bf16, w_bf16, trans_b=True, precision="bf16")
    mixed = fastnn.matmul(x, w_bf16, trans_b=True, precision="bf16")
    same = np.array_equal(rounded_each_call, stored) and np.array_equal(stored, mixed)
    print(f"float32 operands, bf16 operands and mixed give the same bits: {same}")
    exact = x_bf16.to_float32().astype(np.float64) @ w_bf16.to_float32().T.astype(np.float64)
    print(f"largest difference from the float64 product of the bf16 values: "
          f"{np.abs(stored - exact).max():.2e}")

    flops = 2.0 * n ** 3
    with_threads = fastnn.get_num_threads()
    fastnn.set_num_threads(1)
    try:
        calls = max(1, int(2e10 / flops))
        runs = {
            "float32 operands (rounded every call)":
                lambda: fastnn.matmul(x, w, trans_b=True, out=out, precision="bf16"),
            "bf16 operands (fastnn.to_bf16, once)":
                lambda: fastnn.matmul(x_bf16, w_bf16, trans_b=True, out=out, precision="bf16"),
        }
        for name, run in runs.items():
            seconds = best_seconds(run, args.rounds, calls)
            print(f"{name:<40} {seconds * 1e3:8.3f} ms  {flops / seconds * 1e-9:7.1f} GFLOP/s")
    finally:
        fastnn.set_num_threads(with_threads)
    native = fastnn.cpu_info()["bf16_native"]
    print("bf16 arithmetic: " + ("native (AVX512-BF16)" if native
                                 else "float32 kernels on the bf16 values"))


if __name__ == "__main__":
    main()
