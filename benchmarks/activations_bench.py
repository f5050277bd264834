"""Every activation of the table, per instruction set: nanoseconds per float32 element of the
forward and of the backward kernel (1M elements, one thread, best of 15), and a Linear layer
(256 x 512 -> 512) with the activation fused into its write-back against the same Linear without
one. Shows that each activation is vectorised (a few tenths of a ns per element, not the
scalar libm's several ns) and what fusing it costs.

    python benchmarks/activations_bench.py          (runs every ISA this CPU has in a child)
"""
import json
import os
import subprocess
import sys
import time

import numpy as np


def best_of(function, repeats=15):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def measure():
    import fastnn
    import fastnn.functional as F
    fastnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    n = 1 << 20
    x = (rng.standard_normal(n) * 3).astype(np.float32)
    ones = np.ones_like(x)
    a = rng.standard_normal((256, 512)).astype(np.float32)
    w = rng.standard_normal((512, 512)).astype(np.float32)
    b = rng.standard_normal(512).astype(np.float32)
    plain = best_of(lambda: F.linear(a, w, b))
    rows = {}
    for name, row in F.ACTIVATION_TABLE.items():
        y = F.activation(x, name)
        saved = {"input": x} if row["derivative_from_input"] else {"output": y}
        forward = best_of(lambda: F.activation(x, name))
        backward = best_of(lambda: F.activation_backward(name, ones, **saved))
        pre = np.empty((256, 512), np.float32) if row["derivative_from_input"] else None
        fused = best_of(lambda: F.linear(a, w, b, activation=name, pre_activation_out=pre))
        rows[name] = {"forward_ns": forward / n * 1e9, "backward_ns": backward / n * 1e9,
                      "fused_linear_over_plain": fused / plain}
    return {"isa": fastnn.cpu_info()["isa"], "rows": rows}


def main():
    import fastnn
    print("ns per float32 element (1M, one thread, best of 15); Linear 256x512->512 with the "
          "activation fused, time over the same Linear without it")
    for isa in fastnn._core.float_kernel_sets():
        if isa not in fastnn.cpu_info()["isa_supported"]:
            continue
        env = dict(os.environ, FASTNN_ISA=isa, OMP_NUM_THREADS="1")
        out = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True,
                             text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        print(f"\n{result['isa']}:  {'activation':<12} {'forward':>8} {'backward':>9} "
              f"{'fused/plain':>12}")
        for name, r in result["rows"].items():
            print(f"{'':9}{name:<12} {r['forward_ns']:8.3f} {r['backward_ns']:9.3f} "
                  f"{r['fused_linear_over_plain']:12.3f}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        print(json.dumps(measure()))
    else:
        main()
