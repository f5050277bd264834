"""Builds of fastnn compared on the products packing B's copy (dS W) and a control, one core.

    python benchmarks/pack_in_kernel_ab.py /path/to/main/checkout /path/to/kpack/checkout \
        [--rounds 60] [--rows 256 64 1024] [--depth 1024] [--cols 1024] [--steps 64 256 1024] [--cpu 0]

Each checkout (built in place) runs in a server process of its own, pinned to one CPU with one
thread, timed on the thread's CPU clock (which a descheduled thread does not advance: the other
helpers' work on that core shows less); the processes take turns (order reversed every round), each timing 10 calls of
fastnn.matmul(ds, w) with w a depth x cols float32 weight as stored (the input gradient, B packed
by copying) and of fastnn.matmul(x, w2.T), w2 cols x depth (the forward product, B transposed into panels: a
control that the pack-in-kernel trial leaves alone). Prints the best and median time of each and
its share of the measured float32 FMA peak, so that a difference between builds can be read
against the spread of the control; with --steps, the compiled SGD-momentum step of the
784-1024-1024-10 MLP at those batches too (fastnn.bench.training.fastnn_step), as a share of its
FLOP limit.
"""
import argparse
import os
import statistics
import subprocess
import sys

SERVER = r"""
import sys, time, numpy as np, fastnn
from fastnn.bench.training import fastnn_step
fastnn.set_num_threads(1)
rng = np.random.default_rng(0)
rows, batches, k, n = sys.argv[1].split(","), sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])
w = rng.standard_normal((k, n), dtype=np.float32)
w2 = rng.standard_normal((n, k), dtype=np.float32)
cases = {}
for batch in map(int, filter(None, batches)):
    cases[f"step{batch}"] = fastnn_step([784, 1024, 1024, 10], batch)
for m in map(int, filter(None, rows)):
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
    start = time.thread_time()
    for _ in range(int(reps)):
        f()
    print((time.thread_time() - start) / int(reps), flush=True)
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("builds", nargs="+")
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--rows", type=int, nargs="*", default=[256])
    parser.add_argument("--steps", type=int, nargs="*", default=[])
    parser.add_argument("--depth", type=int, default=1024, help="k of the products")
    parser.add_argument("--cols", type=int, default=1024, help="n of the products")
    parser.add_argument("--cpu", default="0")
    args = parser.parse_args()
    sys.path.insert(0, args.builds[0])
    from fastnn.bench import fma_peak_gflops
    peak = fma_peak_gflops()
    procs = {}
    for build in args.builds:
        env = dict(os.environ, PYTHONPATH=build)
        procs[build] = subprocess.Popen(
            ["taskset", "-c", args.cpu, sys.executable, "-c", SERVER,
             ",".join(map(str, args.rows)), ",".join(map(str, args.steps)), str(args.depth),
             str(args.cols)],
            cwd=build, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        print(build, "->", procs[build].stdout.readline().strip())
    names = ([f"{kind}{m}" for m in args.rows for kind in ("dsw", "xwt")] +
             [f"step{batch}" for batch in args.steps])
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
        if name.startswith("step"):  # forward, both gradients but the first layer's input's
            layers = 784 * 1024 + 1024 * 1024 + 1024 * 10
            flops = 2 * int(name[4:]) * (3 * layers - 784 * 1024)
        else:
            flops = 2 * int(name[3:]) * args.depth * args.cols
        for build in args.builds:
            v = times[(build, name)]
            best, med = min(v), statistics.median(v)
            print(f"{name:8s} {build:32s} best {best * 1e6:8.1f} us {100 * flops / best / 1e9 / peak:5.1f}%"
                  f"   median {med * 1e6:8.1f} us {100 * flops / med / 1e9 / peak:5.1f}%")


if __name__ == "__main__":
    main()
