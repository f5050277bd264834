"""Data-parallel scaling of fastnn.distributed on this machine, against the cost model of the
README's "Scaling out", and the issue's other bar figures.

    python benchmarks/distributed_scaling.py [--steps N] [--skip-dask]

prints
1. equality: two ranks against one process on the same global batches, float64 (the scenarios
   of tests/mpi_scenarios.py): the largest weight difference;
2. throughput: a 784-1024-1024-10 ReLU MLP in float32, SGD with momentum, batch 1024 per rank:
   one process on one thread, then `mpiexec -n 2` with one thread per rank (each rank also
   times the same step without communication while the other computes, and the allreduce of
   the gradient buffer alone); samples/s and the speedup;
3. the cost model: the 2-rank step predicted from the one-rank step and the measured allreduce,
   against the measured 2-rank step; then, per network bandwidth, the per-rank batch above
   which the allreduce fits behind backward, and the predicted speedups at 2, 8 and 64 ranks;
4. Dask: predictions on a LocalCluster of two worker processes against local predictions.

The steps are timed on the wall clock (the ranks wait for each other), median of --steps after
two warm-up steps; the machine's other load moves them: run it on a quiet machine.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LAYERS = (784, 1024, 1024, 10)
BATCH = 1024
BANDWIDTHS_GBIT = (1, 10, 100)
RANKS = (2, 8, 64)
LATENCY = 5e-6  # seconds per message hop of a cluster network (assumed, not measured here)


def build_model(dtype=np.float32):
    from fastnn import nn
    modules = []
    for i, (fan_in, fan_out) in enumerate(zip(LAYERS[:-1], LAYERS[1:])):
        modules.append(nn.Linear(fan_in, fan_out, dtype=dtype, rng=i))
        if i < len(LAYERS) - 2:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


def n_parameters():
    return sum(a * b + b for a, b in zip(LAYERS[:-1], LAYERS[1:]))


def data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((BATCH, LAYERS[0]), dtype=np.float32), rng.integers(0, LAYERS[-1], BATCH)


def time_steps(step, n_steps, barrier=None):
    """Median and minimum seconds of `step` over n_steps after two warm-up calls."""
    for _ in range(2):
        step()
    times = []
    for _ in range(n_steps):
        if barrier is not None:
            barrier()
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.min(times))


def plain_step_function(model, X, y, phases=None):
    """One training step without any communication; `phases` collects forward/backward times."""
    from fastnn import nn, optim
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        t0 = time.perf_counter()
        loss_fn(model(X), y)
        t1 = time.perf_counter()
        model.backward(loss_fn.backward(), need_input_grad=False)
        t2 = time.perf_counter()
        opt.step()
        if phases is not None:
            phases.append((t1 - t0, t2 - t1))
    return step


def one_rank(n_steps):
    """The baseline: one process, one thread, no MPI."""
    import fastnn
    fastnn.set_num_threads(1)
    phases = []
    median, best = time_steps(plain_step_function(build_model(), *data(0), phases), n_steps)
    forward, backward = np.median(np.array(phases[2:]), axis=0)
    return {"step": median, "best": best, "forward": float(forward), "backward": float(backward)}


def rank_worker(n_steps):
    """Run under mpiexec: each rank times the data-parallel step, the same step without
    communication (both ranks computing), and the allreduce alone."""
    import fastnn
    from fastnn import nn, optim
    from fastnn.distributed import DistributedDataParallel
    from mpi4py import MPI
    fastnn.set_num_threads(1)
    comm = MPI.COMM_WORLD
    X, y = data(comm.Get_rank())
    model = DistributedDataParallel(build_model(), comm)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def parallel_step():
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        model.backward(loss_fn.backward(), need_input_grad=False, loss=loss)
        opt.step()

    step, step_best = time_steps(parallel_step, n_steps, comm.Barrier)
    compute, _ = time_steps(plain_step_function(build_model(), X, y), n_steps, comm.Barrier)
    buffer = np.ones(n_parameters(), np.float32)
    allreduce, allreduce_best = time_steps(lambda: comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM),
                                           n_steps, comm.Barrier)
    results = comm.gather({"step": step, "best": step_best, "compute": compute, "allreduce": allreduce,
                           "allreduce_best": allreduce_best})
    if comm.Get_rank() == 0:
        print(json.dumps({k: max(r[k] for r in results) for k in results[0]}))


def two_ranks(n_steps):
    command = [shutil.which("mpiexec") or "mpiexec", "-n", "2", sys.executable, __file__, "--rank-worker",
               "--steps", str(n_steps)]
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if run.returncode:
        sys.exit(f"mpiexec -n 2 failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def equality():
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    run = subprocess.run([shutil.which("mpiexec") or "mpiexec", "-n", "2", sys.executable, "-W", "ignore",
                          str(ROOT / "tests" / "mpi_scenarios.py"), "equivalence"],
                         capture_output=True, text=True, env=env, timeout=300)
    if run.returncode:
        sys.exit(f"the equivalence scenarios failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def ring_allreduce_seconds(ranks, bandwidth_bytes, n_bytes, latency=LATENCY):
    """A ring allreduce: 2(p-1) steps, each sending and receiving n_bytes/p."""
    return 2 * (ranks - 1) / ranks * n_bytes / bandwidth_bytes + 2 * (ranks - 1) * latency


def layer_shares():
    """Per layer, last first (the order backward finishes them): its share of the backward's
    FLOPs (dW, and dX except for the first layer) and its parameters."""
    flops = [2 * a * b * (1 if i == 0 else 2) for i, (a, b) in enumerate(zip(LAYERS[:-1], LAYERS[1:]))]
    params = [a * b + b for a, b in zip(LAYERS[:-1], LAYERS[1:])]
    return [f / sum(flops) for f in reversed(flops)], list(reversed(params))


def exposed_communication(backward, ranks, bandwidth_bytes):
    """Seconds the step waits for communication when each layer's allreduce starts as its
    backward ends and runs in the background, one at a time: the first layer's (reduced after
    the whole backward) is always exposed."""
    flop_shares, params = layer_shares()
    ready = finished = 0.0
    for share, n in zip(flop_shares, params):
        ready += share * backward
        finished = max(finished, ready) + ring_allreduce_seconds(ranks, bandwidth_bytes, 4 * n)
    return finished - ready


def cost_model(single, measured):
    n_bytes = 4 * n_parameters()
    compute = single["step"]
    per_sample = compute / BATCH
    predicted = compute + measured["allreduce"]
    print("\n== cost model")
    print(f"parameters: {n_parameters():,} ({n_bytes / 1e6:.2f} MB of float32 gradient); each rank sends and "
          f"receives 2(p-1)/p x {n_bytes / 1e6:.2f} MB a step")
    shm_bandwidth = n_bytes / measured["allreduce_best"]
    print(f"this machine (2 ranks, shared memory): allreduce {measured['allreduce'] * 1e3:.2f} ms median "
          f"({measured['allreduce_best'] * 1e3:.2f} best: {shm_bandwidth / 1e9:.1f} GB/s per rank)")
    print(f"2 ranks predicted: step = one-rank step {compute * 1e3:.1f} ms + allreduce "
          f"{measured['allreduce'] * 1e3:.2f} ms = {predicted * 1e3:.1f} ms -> speedup {2 * compute / predicted:.2f}x")
    print(f"2 ranks measured:  step {measured['step'] * 1e3:.1f} ms -> speedup {2 * compute / measured['step']:.2f}x; "
          f"prediction off by {100 * (predicted / measured['step'] - 1):+.1f}% (bar: within 20%)")
    print(f"   (the same step without communication, both ranks computing: {measured['compute'] * 1e3:.1f} ms, "
          f"{100 * (measured['compute'] / compute - 1):+.1f}% over one rank alone: the ranks share the memory "
          "system, and whatever else runs)")
    print(f"\none rank, batch {BATCH}: forward {single['forward'] * 1e3:.1f} ms, backward "
          f"{single['backward'] * 1e3:.1f} ms, step {compute * 1e3:.1f} ms ({per_sample * 1e6:.1f} us/sample); "
          f"compute taken proportional to the batch; network latency assumed {LATENCY * 1e6:.0f} us a hop")
    print("bandwidth | ranks | allreduce | batch/rank for 90% efficiency: no overlap / overlap | "
          f"speedup at batch {BATCH}: no overlap / overlap")
    backward_share = single["backward"] / compute
    for gbit in BANDWIDTHS_GBIT:
        for ranks in RANKS:
            comm = ring_allreduce_seconds(ranks, gbit * 1e9 / 8, n_bytes)
            batch_no_overlap = int(np.ceil(9 * comm / per_sample))
            batch_overlap = next(b for b in range(1, 1 << 20) if
                                 9 * exposed_communication(backward_share * per_sample * b, ranks, gbit * 1e9 / 8)
                                 <= per_sample * b)
            exposed = exposed_communication(single["backward"], ranks, gbit * 1e9 / 8)
            print(f"{gbit:>4} Gb/s | {ranks:>5} | {comm * 1e3:7.2f} ms | {batch_no_overlap:>7} / {batch_overlap:>7} | "
                  f"{ranks * compute / (compute + comm):6.1f}x / {ranks * compute / (compute + exposed):6.1f}x")


def dask_equality():
    try:
        from dask.distributed import Client, LocalCluster
        import dask.array as da
    except ImportError:
        print("\n== dask: not installed (pip install 'fastnn[dask]')")
        return
    import fastnn
    from fastnn.distributed import predict, predict_proba
    X, y = fastnn.datasets.make_spirals(2000, noise=0.1, random_state=0)
    clf = fastnn.MLPClassifier((64,), max_iter=30, random_state=0).fit(X, y)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster):
        lazy = da.from_array(X, chunks=300)
        labels, proba = predict(clf, lazy).compute(), predict_proba(clf, lazy).compute()
    print(f"\n== dask (LocalCluster, 2 worker processes): predictions equal local: "
          f"{bool((labels == clf.predict(X)).all())}, largest probability difference "
          f"{np.abs(proba - clf.predict_proba(X)).max():.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--rank-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank_worker:
        return rank_worker(args.steps)
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print("== equality: two ranks against one process on the same global batches (float64)")
    for name, result in equality().items():
        if "max_weight_difference" in result:
            print(f"{name:16s} largest weight difference {result['max_weight_difference']:.1e}, "
                  f"loss {result['max_loss_difference']:.1e}, ranks identical: {result['ranks_identical']}")
    single = one_rank(args.steps)
    measured = two_ranks(args.steps)
    print(f"\n== throughput: {'-'.join(map(str, LAYERS))} ReLU MLP, float32, SGD momentum, batch {BATCH} per rank")
    print("                               step: median (best)     samples/s: median (best)")
    print(f"1 rank, 1 thread:              {single['step'] * 1e3:7.1f} ms ({single['best'] * 1e3:6.1f})   "
          f"{BATCH / single['step']:8.0f} ({BATCH / single['best']:6.0f})")
    print(f"2 ranks, 1 thread each (MPI):  {measured['step'] * 1e3:7.1f} ms ({measured['best'] * 1e3:6.1f})   "
          f"{2 * BATCH / measured['step']:8.0f} ({2 * BATCH / measured['best']:6.0f})")
    print(f"speedup of 2 ranks over 1: {2 * single['step'] / measured['step']:.2f}x by the medians, "
          f"{2 * single['best'] / measured['best']:.2f}x by the best steps (bar: 1.6x)")
    cost_model(single, measured)
    if not args.skip_dask:
        dask_equality()
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
