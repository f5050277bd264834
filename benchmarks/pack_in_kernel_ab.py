"""Builds of fastnn compared on the products packing B's copy (dS W) and a control, one core.

    python benchmarks/pack_in_kernel_ab.py /path/to/main/checkout /path/to/kpack/checkout \
        [--rounds 60] [--rows 256 64 1024]

Each checkout (built in place) runs in a server process of its own, pinned to CPU 0 with one
thread; the processes take turns (order reversed every round), each timing 10 calls of
fastnn.matmul(ds, w) with w a 1024 x 1024 float32 weight as stored (the input gradient, B packed
by copying) and of fastnn.matmul(x, w2.T) (the forward product, B transposed into panels: a
control that the pack-in-kernel trial leaves alone). Prints the best and median time of each and
its share of the measured float32 FMA peak, so that a difference between builds can be read
against the spread of the control.
"""
import argparse
import os
import statistics
import subprocess
import sys

SERVER = r"""
import sys, time, numpy as np, fastnn
fastnn.set_num_threads(1)
rng = np.random.default_rng(0)
k = n = 1024
w = rng.standard_normal((k, n), dtype=np.float32)
w2 = rng.standard_normal((n, k), dtype=np.float32)
cases = {}
for m in map(int, sys.argv[1:]):
    ds = rng.standard_normal((m, k), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    cases[f"dsw{m}"] = (lambda ds=ds, out=out: fastnn.matmul(ds, w, out=out))
    cases[f"xwt{m}"] = (lambda ds=ds, out=out: fastnn.matmul(ds, w2.T, out=out))
for f in cases.values():
    f()
print(fastnn.__file__, flush=True)
for line in sys.stdin:
    name, reps = line.split()
    f = cases[name]
    f()
    start = time.perf_counter()
    for _ in range(int(reps)):
        f()
    print((time.perf_counter() - start) / int(reps), flush=True)
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("builds", nargs="+")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--rows", type=int, nargs="+", default=[256])
    args = parser.parse_args()
    sys.path.insert(0, args.builds[0])
    from fastnn.bench import fma_peak_gflops
    peak = fma_peak_gflops()
    procs = {}
    for build in args.builds:
        env = dict(os.environ, PYTHONPATH=build)
        procs[build] = subprocess.Popen(
            ["taskset", "-c", "0", sys.executable, "-c", SERVER] + [str(m) for m in args.rows],
            cwd=build, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        print(build, "->", procs[build].stdout.readline().strip())
    names = [f"{kind}{m}" for m in args.rows for kind in ("dsw", "xwt")]
    times = {(b, name): [] for b in args.builds for name in names}
    for r in range(args.rounds):
        for name in names:
            for build in args.builds if r % 2 == 0 else args.builds[::-1]:
                proc = procs[build]
                proc.stdin.write(f"{name} 10\n")
                proc.stdin.flush()
                times[(build, name)].append(float(proc.stdout.readline()))
    for proc in procs.values():
        proc.stdin.close()
        proc.wait()
    print(f"one core's float32 peak {peak:.0f} GFLOP/s; best / median of {args.rounds} rounds")
    for name in names:
        flops = 2 * int(name[3:]) * 1024 * 1024
        for build in args.builds:
            v = times[(build, name)]
            best, med = min(v), statistics.median(v)
            print(f"{name:8s} {build:32s} best {best * 1e6:8.1f} us {100 * flops / best / 1e9 / peak:5.1f}%"
                  f"   median {med * 1e6:8.1f} us {100 * flops / med / 1e9 / peak:5.1f}%")


if __name__ == "__main__":
    main()
