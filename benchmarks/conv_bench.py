"""Convolutional networks on one core: fastnn beside torch, in one process, against the FMA peak.

    taskset -c 0 python benchmarks/conv_bench.py [--quick] [--json PATH]

Prints, each figure against one core's measured FMA peak and torch in the same run:
  1. a 3x3 convolution 64 -> 64 channels on 32x32, batch 32: forward GFLOP/s (fastnn on torch's
     NCHW layout; torch NCHW and channels-last), and its backward (dX, dW, db) against the
     forward, whose FLOP count predicts 2x;
  2. a small CNN's backward/forward time ratio against its FLOP prediction (the first layer
     skips its input gradient);
  3. a LeNet-5 training step (28x28 input, batch 64, SGD momentum) against torch's;
  4. the extra memory of the convolution's window buffers.
Timing: every candidate round-robin in one process, best of several rounds, on the process's CPU
clock with one thread (fastnn.bench.timing.interleaved_best), so preemption by other processes
is not charged; pin the process (taskset -c 0) for the one-core figures to mean one core.
"""
import argparse
import json
import sys
import time

import numpy as np

import fastnn
from fastnn import _core, nn, optim
from fastnn import functional as F
from fastnn.bench.machine import fma_peak_gflops
from fastnn.bench.timing import interleaved_best

try:
    import torch
except ImportError:  # the fastnn figures are still printed
    torch = None


def conv_flops(batch, cin, cout, h, w, k):
    """Multiply-adds x 2 of a stride-1 'same' k x k convolution."""
    return 2.0 * batch * cout * cin * k * k * h * w


def best(candidates, rounds):
    return interleaved_best(candidates, rounds=rounds, round_seconds=0.02, clock=time.process_time)


def conv_case(peak, rounds, batch=32, channels=64, size=32):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
    w = (rng.standard_normal((channels, channels, 3, 3)) * 0.05).astype(np.float32)
    b = rng.standard_normal(channels).astype(np.float32)
    y = F.conv2d(x, w, b, padding=1)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    candidates = {
        "fastnn forward": lambda: F.conv2d(x, w, b, padding=1),
        "fastnn backward": lambda: F.conv2d_backward(dy, x, w, padding=1),
    }
    if torch is not None:
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        txl = tx.contiguous(memory_format=torch.channels_last)
        twl = tw.contiguous(memory_format=torch.channels_last)
        gx = tx.clone().requires_grad_(True)
        gw, gb = tw.clone().requires_grad_(True), tb.clone().requires_grad_(True)
        tdy = torch.from_numpy(dy)

        def torch_backward():
            gx.grad = gw.grad = gb.grad = None
            torch.nn.functional.conv2d(gx, gw, gb, padding=1).backward(tdy)

        def torch_forward_backward():
            torch_backward()

        candidates.update({
            "torch forward NCHW": lambda: torch.nn.functional.conv2d(tx, tw, tb, padding=1),
            "torch forward channels-last": lambda: torch.nn.functional.conv2d(txl, twl, tb, padding=1),
            "torch forward+backward NCHW": torch_forward_backward,
        })
    times = best(candidates, rounds)
    flops = conv_flops(batch, channels, channels, size, size, 3)
    rows = {}
    for name, seconds in times.items():
        work = flops * (2 if "backward" in name and "forward+" not in name else 3 if "forward+" in name else 1)
        rows[name] = {"ms": seconds * 1e3, "gflops": work / seconds * 1e-9,
                      "percent_of_peak": 100 * work / seconds * 1e-9 / peak}
    ratio = times["fastnn backward"] / times["fastnn forward"]
    result = {"shape": f"batch {batch}, {channels}->{channels}, {size}x{size}, 3x3, padding 1",
              "rows": rows, "backward_over_forward": ratio, "predicted": 2.0}
    if torch is not None:
        result["torch_backward_over_forward"] = (times["torch forward+backward NCHW"]
                                                 - times["torch forward NCHW"]) / times["torch forward NCHW"]
    return result


def small_cnn(seed=0):
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, rng=seed), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1, rng=seed + 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1, rng=seed + 2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 10, rng=seed + 3))


def cnn_ratio(rounds, batch=32):
    """Backward (first layer without dX) over forward, timed, against the FLOP prediction."""
    model = small_cnn()
    x = np.random.default_rng(1).standard_normal((batch, 3, 32, 32), dtype=np.float32)
    y = model(x)
    g = np.ones_like(y)
    convs = [(3, 32, 32), (32, 64, 32), (64, 64, 16)]
    forward = sum(conv_flops(batch, ci, co, s, s, 3) for ci, co, s in convs) + 2.0 * batch * 4096 * 10
    first = conv_flops(batch, 3, 32, 32, 32, 3)
    predicted = (2 * forward - first) / forward

    def backward():
        model.zero_grad()
        model.backward(g, need_input_grad=False)

    times = best({"forward": lambda: model(x), "backward": backward}, rounds)
    return {"model": "conv3-32, conv32-64, pool, conv64-64, pool, linear; 32x32, batch %d" % batch,
            "forward_ms": times["forward"] * 1e3, "backward_ms": times["backward"] * 1e3,
            "ratio": times["backward"] / times["forward"], "predicted": predicted,
            "forward_gflops": forward / times["forward"] * 1e-9}


def lenet(seed=0):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, rng=seed), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=seed + 1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120, rng=seed + 2), nn.ReLU(), nn.Linear(120, 84, rng=seed + 3), nn.ReLU(),
        nn.Linear(84, 10, rng=seed + 4))


def torch_lenet():
    t = torch.nn
    return t.Sequential(t.Conv2d(1, 6, 5, padding=2), t.ReLU(), t.MaxPool2d(2), t.Conv2d(6, 16, 5),
                        t.ReLU(), t.MaxPool2d(2), t.Flatten(), t.Linear(400, 120), t.ReLU(),
                        t.Linear(120, 84), t.ReLU(), t.Linear(84, 10))


def lenet_step(rounds, batch=64):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, batch)
    model, loss_fn = lenet(), nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def fastnn_step():
        opt.zero_grad()
        loss_fn(model(x), labels)
        model.backward(loss_fn.backward(), need_input_grad=False)
        opt.step()

    candidates = {"fastnn": fastnn_step}
    if torch is not None:
        tmodel, tloss = torch_lenet(), torch.nn.CrossEntropyLoss()
        topt = torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
        tx, ty = torch.from_numpy(x), torch.from_numpy(labels)

        def torch_step():
            topt.zero_grad()
            tloss(tmodel(tx), ty).backward()
            topt.step()

        candidates["torch"] = torch_step
    times = best(candidates, rounds)
    return {name: seconds * 1e3 for name, seconds in times.items()}


def buffer_bytes():
    """The extra memory of the benchmark's convolutions: (forward, backward) bytes."""
    cases = {"3x3 64->64 32x32 batch 32": (32, 64, 64, 1, 32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1),
             "3x3 64->64 32x32 batch 256": (256, 64, 64, 1, 32, 32, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1),
             "LeNet conv2 6->16 5x5 14x14 batch 64": (64, 6, 16, 1, 14, 14, 10, 10, 5, 5, 1, 1, 0, 0, 1, 1)}
    return {name: (_core.conv_buffer_bytes(g, 4, False), _core.conv_buffer_bytes(g, 4, True))
            for name, g in cases.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 7
    fastnn.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    peak = fma_peak_gflops(np.float32)
    results = {"peak_gflops_f32_one_core": peak, "isa": fastnn.cpu_info()["isa"],
               "torch": torch.__version__ if torch is not None else None}
    print(f"one core's measured FMA peak: {peak:.1f} GFLOP/s float32 ({results['isa']})")

    conv = results["conv"] = conv_case(peak, rounds)
    print(f"\n3x3 convolution, {conv['shape']}, one thread:")
    for name, row in conv["rows"].items():
        print(f"  {name:32s} {row['ms']:8.2f} ms  {row['gflops']:7.1f} GFLOP/s  {row['percent_of_peak']:5.1f}% of peak")
    if "torch forward channels-last" in conv["rows"]:
        ratio = conv["rows"]["torch forward channels-last"]["ms"] / conv["rows"]["fastnn forward"]["ms"]
        print(f"  fastnn forward against torch channels-last: {ratio:.3f}x its speed (bar: > 1, and >= 85% of peak)")
    print(f"  fastnn backward / forward: {conv['backward_over_forward']:.2f} (FLOP prediction 2.00; "
          f"{100 * (conv['backward_over_forward'] / 2.0 - 1):+.1f}%, bar: within +-15%)")
    if "torch_backward_over_forward" in conv:
        print(f"  torch  backward / forward: {conv['torch_backward_over_forward']:.2f}")

    cnn = results["cnn"] = cnn_ratio(rounds)
    print(f"\nCNN ({cnn['model']}):")
    print(f"  forward {cnn['forward_ms']:.2f} ms ({cnn['forward_gflops']:.1f} GFLOP/s), backward "
          f"{cnn['backward_ms']:.2f} ms: ratio {cnn['ratio']:.2f} (FLOP prediction {cnn['predicted']:.2f})")

    step = results["lenet_step_ms"] = lenet_step(rounds)
    print("\nLeNet-5 training step, 28x28, batch 64, SGD momentum, one thread:")
    for name, ms in step.items():
        print(f"  {name:8s} {ms:7.2f} ms")
    if "torch" in step:
        print(f"  fastnn against torch: {step['torch'] / step['fastnn']:.2f}x its speed (bar: > 1)")

    results["buffer_bytes"] = buffer_bytes()
    print("\nextra memory of a convolution call (window buffers and packed weights, per thread; "
          "independent of the batch size):")
    for name, (forward, backward) in results["buffer_bytes"].items():
        print(f"  {name}: forward {forward / 1024:.0f} KiB, backward {backward / 1024:.0f} KiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
