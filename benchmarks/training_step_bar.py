"""The training-step engine against issue 9's bar, on one core, every library in the same run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 0 python benchmarks/training_step_bar.py

(`taskset -c 0` pins jax too, which ignores thread settings; unsetting the two OpenBLAS
variables lets numpy run its own AVX-512 kernels.) Prints, each figure the best of several
interleaved rounds on the process's CPU clock (each round's first call untimed):
- one SGD-momentum step (softmax cross-entropy, first layer without input gradient) of
  784-1024-1024-10 at B = 1..1024, 64-64-64-10 at B=32 and 784-256-10 at B=64: fastnn's compiled
  step (model.compile_step) and eager loop, hand-written numpy, torch, jax.jit; the compiled step
  as a share of the FLOP limit (step FLOPs / the FMA peak, measured in the same rounds);
- the B=1 step against its traffic limit (the bytes it must move, each access pattern at the
  rate fastnn's stream probe of that pattern measures in the same rounds);
- single-row inference (model.compile_forward) against numpy's `@`;
- bwd/fwd of the eager MLP against the FLOP prediction;
- the compiled step's Python cost per call, at depth 3 and 21.
`--quick` runs fewer rounds.
"""
import argparse
import sys
import time

import numpy as np

import fastnn
from fastnn import _core, nn, optim
from fastnn.bench import fma_peak_gflops
from fastnn.bench.competitors import available_libraries, numpy_blas, thread_count
from fastnn.bench.flops import mlp_backward_flops, mlp_forward_flops, predicted_backward_ratio
from fastnn.bench.layers import MLPWorkload
from fastnn.bench.timing import interleaved_best
from fastnn.bench.training import (STEPS, classification_batch, fastnn_mlp, fastnn_step,
                                   initial_parameters, peak_probe)

BIG = [784, 1024, 1024, 10]
STEP_CASES = [(BIG, b) for b in (1, 16, 64, 256, 1024)] + [([64, 64, 64, 10], 32), ([784, 256, 10], 64)]
INFERENCE = [BIG, [64, 256, 256, 10]]


def step_flops(sizes, batch):
    """Forward, then backward without the first layer's input gradient."""
    return mlp_forward_flops(sizes, batch) + mlp_backward_flops(sizes, batch, need_input_grad=False)


B1_TRAFFIC = ("the forward reads every weight once (one read stream); the backward's one pass "
              "reads every weight and its momentum and writes both back in place (the input "
              "gradient is formed from each row before its update; the weight gradient is never "
              "stored): 4 + 16 bytes a weight")


def b1_step_bytes(sizes, itemsize=4):
    """What a B=1 SGD-momentum step must move (B1_TRAFFIC), as (forward bytes, backward bytes):
    the forward must finish before the backward starts, so every weight crosses the cache twice.
    Biases and activations are noise."""
    weights = sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
    return itemsize * weights, itemsize * 4 * weights


def stream_probes(sizes):
    """Callables running the two access patterns of the B=1 step on arrays of its size, beyond L2
    and within L3 (fastnn._core's stream probes, on the ISA's widest vectors): one read pass over
    an array the size of all the weights, and one in-place pass over two such arrays (a weight
    and its momentum). Each with and without software prefetch: the faster of the two is the
    machine's rate (neither is chosen to suit the step). And both passes as one call, in the
    step's order: each line is then reused as far apart as in the step, which matters when
    another core's traffic evicts lines from the shared L3 meanwhile."""
    from fastnn import _aligned
    n = -(-sum(i * o for i, o in zip(sizes[:-1], sizes[1:])) // 64) * 64
    weights, momentum = _aligned.zeros(n, np.float32), _aligned.zeros(n, np.float32)
    probes = {}
    for prefetch in (True, False):
        probes[("read", prefetch)] = lambda p=prefetch: _core.stream_read(weights, p)
        probes[("update", prefetch)] = lambda p=prefetch: _core.stream_update_pair(weights, momentum, p)
        probes[("in order", prefetch)] = lambda p=prefetch: (
            _core.stream_read(weights, p), _core.stream_update_pair(weights, momentum, p))
    return probes, 4 * n


def numpy_add_bandwidth(total_bytes=16 << 20):
    """(callable, bytes it moves) of the probe earlier versions of this benchmark used: numpy's
    a += b over two 8 MiB arrays (reads 8 bytes and writes 4 an element)."""
    a = np.ones(total_bytes // 8, np.float32)
    b = np.ones_like(a)
    return (lambda: np.add(a, b, out=a)), 3 * a.nbytes


def timing(quick):
    """Rounds of a few dozen calls; each round's first call untimed, so that no candidate is
    charged for reloading its weights into the cache the one before it used (at B=1 every
    library's ~15 MB of weights and optimizer state fits in L3 alone, not beside the others')."""
    return dict(rounds=3 if quick else 9, round_seconds=0.02 if quick else 0.06, warm=True)


def step_table(libraries, quick):
    print("\nOne SGD-momentum training step, one core (ms; % = compiled step FLOPs / the float32 "
          "peak measured in the same rounds, GFLOP/s)")
    names = ["compiled", "eager"] + [lib for lib in libraries if lib != "fastnn"]
    print(f"{'model':<18}{'batch':>6}" + "".join(f"{n:>10}" for n in names)
          + f"{'peak':>6}{'% limit':>9}{'vs best peer':>14}")
    for sizes, batch in STEP_CASES:
        peaks = []
        steps = {"compiled": fastnn_step(sizes, batch),
                 "eager": fastnn_step(sizes, batch, compiled=False)}
        steps.update({lib: STEPS[lib](sizes, batch) for lib in names[2:]})
        steps["peak"] = peak_probe(peaks)
        best = interleaved_best(steps, clock=time.process_time, **timing(quick))
        peak = max(peaks)
        limit = step_flops(sizes, batch) / (peak * 1e9)
        peers = [best[n] for n in names[2:]]
        ratio = f"{min(peers) / best['compiled']:.2f}x" if peers else "-"
        print(f"{'-'.join(map(str, sizes)):<18}{batch:>6}" + "".join(f"{best[n] * 1e3:>10.3f}" for n in names)
              + f"{peak:>6.0f}{100 * limit / best['compiled']:>8.0f}%{ratio:>14}")


def b1_limit(quick):
    """The B=1 step against the time its traffic takes at the rates the stream probes measure,
    all timed in the same rounds (the rates move with the machine's load and clock); the forward
    alone (model.compile_forward, the step's matrix-vector products) splits the step in two."""
    probes, probe_bytes = stream_probes(BIG)
    add, add_bytes = numpy_add_bandwidth()
    predict, x = fastnn_mlp(initial_parameters(BIG)).compile_forward(), classification_batch(BIG, 1)[0]
    out = np.empty((1, BIG[-1]), np.float32)
    candidates = {"step": fastnn_step(BIG, 1), "forward": lambda: predict(x, out=out),
                  "numpy a += b": add, **probes}
    # rounds of tens of calls: a call right after another candidate's runs slower even when an
    # untimed call came between (compile_forward alone 72 us, beside the in-place probe 72 us in
    # rounds of 10 ms, 90 us in rounds of one call), the cache's state takes longer to settle
    best = interleaved_best(candidates, clock=time.process_time, rounds=6 if quick else 20,
                            round_seconds=0.02, warm=True)
    read_rate = probe_bytes / min(best[("read", p)] for p in (True, False))
    update_rate = 4 * probe_bytes / min(best[("update", p)] for p in (True, False))
    forward_bytes, backward_bytes = b1_step_bytes(BIG)
    forward_limit, backward_limit = forward_bytes / read_rate, backward_bytes / update_rate
    limit = forward_limit + backward_limit
    step, forward = best["step"], best["forward"]
    in_order = min(best[("in order", p)] for p in (True, False)) * sum(b1_step_bytes(BIG)) / (5 * probe_bytes)
    add_rate = add_bytes / best["numpy a += b"]
    print(f"\nB=1 step: {step * 1e3:.3f} ms; traffic limit {limit * 1e3:.3f} ms: "
          f"{step / limit:.2f}x the limit (bar: <= 1.3x)\n"
          f"  bytes: {B1_TRAFFIC};\n"
          f"  forward {forward_bytes / 1e6:.1f} MB at {read_rate / 1e9:.0f} GB/s (one read stream) = "
          f"{forward_limit * 1e3:.3f} ms; backward {backward_bytes / 1e6:.1f} MB at "
          f"{update_rate / 1e9:.0f} GB/s (two streams read and written in place) = "
          f"{backward_limit * 1e3:.3f} ms;\n"
          f"  the forward alone (compile_forward) takes {forward * 1e3:.3f} ms "
          f"({forward / forward_limit:.2f}x its part), the rest of the step (loss, backward and "
          f"update, Python call) {(step - forward) * 1e3:.3f} ms ({(step - forward) / backward_limit:.2f}x its part);\n"
          f"  the same traffic in the step's order (a read pass, then the in-place pass, one call) "
          f"takes {in_order * 1e3:.3f} ms: the step is {step / in_order:.2f}x that;\n"
          f"  rates: fastnn's stream probes on arrays of the step's size ({probe_bytes / 2**20:.1f} "
          f"MiB each; in L3, beyond L2) on the widest vectors, with and without software prefetch "
          f"(the faster); every figure the best of rounds of calls interleaved with the others, each "
          f"round's first call untimed;\n"
          f"  for comparison, numpy's a += b over two 8 MiB arrays (the probe before, which mixes "
          f"two reads with one write) runs at {add_rate / 1e9:.0f} GB/s: "
          f"{sum(b1_step_bytes(BIG)) / add_rate * 1e3:.3f} ms for all {sum(b1_step_bytes(BIG)) / 1e6:.1f} MB")


def inference_table(quick):
    print("\nSingle-row inference (us): model.compile_forward() vs numpy's @ (+ bias, ReLU)")
    for sizes in INFERENCE:
        params = initial_parameters(sizes)
        model = fastnn_mlp(params)
        x = classification_batch(sizes, 1)[0]
        predict = model.compile_forward()
        out = np.empty((1, sizes[-1]), np.float32)

        def numpy_forward():
            h = x
            for k, (w, b) in enumerate(params):
                h = h @ w.T + b
                if k < len(params) - 1:
                    h = np.maximum(h, 0)
            return h
        best = interleaved_best({"compiled": lambda: predict(x, out=out), "eager": lambda: model(x),
                                 "numpy": numpy_forward}, clock=time.process_time, **timing(quick))
        print(f"  {'-'.join(map(str, sizes)):<18} compiled {best['compiled'] * 1e6:7.1f}   eager "
              f"{best['eager'] * 1e6:7.1f}   numpy {best['numpy'] * 1e6:7.1f}   numpy/compiled "
              f"{best['numpy'] / best['compiled']:.2f}x (bar: >= 1.2x)")


def ratio_table(quick):
    print("\nbwd/fwd of the eager 784-1024-1024-10 MLP (no first-layer input gradient) vs the FLOP prediction")
    predicted = predicted_backward_ratio(BIG, need_input_grad=False)
    for batch in (256, 1024):
        mlp = MLPWorkload(BIG, batch)
        best = interleaved_best({"forward": mlp.forward, "backward": lambda: mlp.backward(False)},
                                clock=time.process_time, **timing(quick))
        measured = best["backward"] / best["forward"]
        print(f"  B={batch:<5} measured {measured:.2f}  predicted {predicted:.2f}  "
              f"({100 * (measured / predicted - 1):+.0f}%; bar: within +-10%)")


def overhead_table(quick):
    print("\nCompiled step: Python cost per call (step(x, y) minus the C call alone), B=1, width 8")
    for depth in (3, 21):
        layers = [nn.Linear(8, 8, activation="relu", rng=i) for i in range(depth - 1)] + [nn.Linear(8, 3, rng=99)]
        model = nn.Sequential(*layers)
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        step = model.compile_step(nn.CrossEntropyLoss(), opt)
        x, y = np.ones((1, 8), np.float32), np.zeros(1, np.int64)
        step(x, y)
        plan = step._net.plan
        best = interleaved_best({"step": lambda: step(x, y), "c_call": lambda: plan.train_step(x, y, True)},
                                clock=time.process_time, **timing(quick))
        print(f"  depth {depth:>2}: step {best['step'] * 1e6:6.2f} us, C call {best['c_call'] * 1e6:6.2f} us, "
              f"Python {(best['step'] - best['c_call']) * 1e6:5.2f} us")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a first look)")
    args = parser.parse_args(argv)
    libraries = available_libraries()
    peak = fma_peak_gflops("float32", runs=10 if args.quick else 50)
    print(f"fastnn {fastnn.__version__} ({_core.isa_name()}); peers {', '.join(libraries)}; numpy's "
          f"BLAS {numpy_blas()}; one core's float32 peak {peak:.0f} "
          f"GFLOP/s (measured)")
    with thread_count(1):
        step_table(libraries, args.quick)
        b1_limit(args.quick)
        inference_table(args.quick)
        ratio_table(args.quick)
        overhead_table(args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
