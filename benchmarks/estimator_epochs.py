"""The MLP estimators' stochastic epochs: compiled (one C call a batch) against the Python loop
they fall back to, interleaved in one process, CPU time of the whole fit on one thread.

    taskset -c 0 python benchmarks/estimator_epochs.py            # best of 5 each
    taskset -c 0 python benchmarks/estimator_epochs.py --repeats 9

Fits MLPClassifier((256, 256), solver="sgd", momentum=0.9, batch_size=64, max_iter=50) on the
embedded digits (all 1,797 images, /16, float32 and float64), and prints each path's best CPU
time, the speed-up, and the share of the fit's FLOP limit (forward 2·n·Σ fan_in·fan_out, backward
twice that less the first layer's input gradient, over fastnn's measured one-core peak).
"""
import argparse
import time
import warnings

import numpy as np

import fastnn
from fastnn.datasets import load_digits
from fastnn.estimators import _mlp_base

SETTINGS = dict(hidden_layer_sizes=(256, 256), solver="sgd", momentum=0.9, batch_size=64, max_iter=50,
                random_state=0)


def fit_seconds(X, y, compiled, choose=_mlp_base.compiled_loss):
    _mlp_base.compiled_loss = choose if compiled else (lambda *args: None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter reached: the setting, not a failure
            started = time.process_time()
            model = fastnn.MLPClassifier(**SETTINGS).fit(X, y)
            return time.process_time() - started, model
    finally:
        _mlp_base.compiled_loss = choose


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    fastnn.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    X = X / 16
    units = [X.shape[1], 256, 256, 10]
    macs = sum(a * b for a, b in zip(units[:-1], units[1:]))
    flops = SETTINGS["max_iter"] * X.shape[0] * 2 * (3 * macs - units[0] * units[1])
    from fastnn.bench.machine import fma_peak_gflops
    print(f"digits {X.shape}, {SETTINGS}; one thread, CPU time, best of {args.repeats}")
    for dtype in (np.float32, np.float64):
        peak = fma_peak_gflops(dtype)
        Xd = X.astype(dtype)
        best = {True: np.inf, False: np.inf}
        for _ in range(args.repeats):
            for compiled in (False, True):
                seconds, model = fit_seconds(Xd, y, compiled)
                best[compiled] = min(best[compiled], seconds)
        print(f"  {np.dtype(dtype).name}: Python loop {best[False]:.3f} s, compiled {best[True]:.3f} s "
              f"({best[False] / best[True]:.2f}x); FLOP limit share {flops / best[True] / 1e9 / peak:.0%} compiled, "
              f"{flops / best[False] / 1e9 / peak:.0%} loop (one-core peak {peak:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
