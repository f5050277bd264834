"""bf16 training against issue 10's bars, on one core, every library in the same run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 0 python benchmarks/bf16_training.py

(`taskset -c 0` pins every library's threads to one core; unsetting the two OpenBLAS variables
lets numpy, and so scikit-learn, run their own AVX-512 kernels.) Prints, each time the best of
interleaved rounds on the process's CPU clock:
- the measured one-core peaks: float32 FMA and bf16 dot products (VDPBF16PS);
- one SGD-momentum step (softmax cross-entropy, the first layer without input gradient) of the
  784-1024-1024-10 ReLU MLP at B = 64, 256 and 1024: fastnn's compiled step in float32 and with
  `model.to_precision("bf16")`, torch in float32 and under
  `torch.autocast("cpu", dtype=torch.bfloat16)`; the bars: bf16 >= 1.6x fastnn's float32 step
  and faster than torch's autocast step (B = 256 and 1024);
- where the bf16 step's time goes: its GEMMs timed alone at the same shapes, the SGD update
  alone, and the rest (loss, dS and bias passes, the update's share inside the write-back);
- the digits MLP (256, 256), SGD with momentum 0.9, batch 64, 50 epochs, on a stratified 75/25
  split: test accuracy and fit time of fastnn's MLPClassifier in float32 and bf16 against
  scikit-learn's MLPClassifier with the same settings (the bars: bf16 within 0.5 points of
  float32, the fit >= 5x faster than scikit-learn's); and the same 50 epochs run by the compiled
  step's fit_epoch (the engine without the estimator's Python per batch).
`--quick` runs fewer rounds and one seed.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np

import fastnn
from fastnn import nn, optim
from fastnn.bench import fma_peak_gflops
from fastnn.bench.bf16 import bf16_peak_gflops
from fastnn.bench.competitors import optional_module, thread_count
from fastnn.bench.flops import step_products, training_step_flops
from fastnn.bench.gemm import GEMM_FORMS, gemm_operands
from fastnn.bench.timing import interleaved_best
from fastnn.bench.training import (LEARNING_RATE, MOMENTUM, classification_batch, fastnn_mlp,
                                   initial_parameters, torch_step)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from _common import standardise, stratified_split  # noqa: E402

BIG = [784, 1024, 1024, 10]
STEP_BATCHES = (64, 256, 1024)
BAR_BATCHES = (256, 1024)
BAR_SPEEDUP = 1.6
DIGITS = dict(hidden_layer_sizes=(256, 256), solver="sgd", momentum=0.9, batch_size=64, max_iter=50)
DIGITS_ACCURACY_POINTS = 0.5
DIGITS_SPEEDUP = 5.0
CLOCK = time.process_time


def compiled_step(sizes, batch, precision):
    """The compiled step of the benchmark MLP (fastnn.bench.training's weights and batch)."""
    model = fastnn_mlp(initial_parameters(sizes)).to_precision(precision)
    opt = optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    x, y = classification_batch(sizes, batch)
    step = model.compile_step(nn.CrossEntropyLoss(), opt)
    return lambda: step(x, y)


def torch_autocast_step(sizes, batch):
    """torch's float32 step with its products in bf16, as torch's documentation writes it."""
    torch = optional_module("torch")
    step = torch_step(sizes, batch)

    def autocast_step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return step()
    return autocast_step


def step_table(peaks, timing):
    torch = optional_module("torch")
    print(f"\nOne SGD-momentum step of {'-'.join(map(str, BIG))}, one core, ms (GFLOP/s of the "
          f"bf16 step as % of the bf16 peak)")
    names = ["fastnn fp32", "fastnn bf16"] + (["torch fp32", "torch autocast"] if torch else [])
    print(f"{'batch':>6}" + "".join(f"{n:>16}" for n in names)
          + f"{'bf16/fp32':>11}{'vs autocast':>13}{'bf16 % peak':>13}")
    verdicts = []
    for batch in STEP_BATCHES:
        steps = {"fastnn fp32": compiled_step(BIG, batch, "fp32"),
                 "fastnn bf16": compiled_step(BIG, batch, "bf16")}
        if torch:
            steps["torch fp32"] = torch_step(BIG, batch)
            steps["torch autocast"] = torch_autocast_step(BIG, batch)
        for step in steps.values():  # torch builds its kernels over the first calls
            for _ in range(3):
                step()
        best = interleaved_best(steps, clock=CLOCK, **timing)
        speedup = best["fastnn fp32"] / best["fastnn bf16"]
        versus = best["torch autocast"] / best["fastnn bf16"] if torch else None
        gflops = training_step_flops(BIG, batch) / best["fastnn bf16"] * 1e-9
        share = f"{100 * gflops / peaks['bf16']:.0f}%" if peaks["bf16"] else "-"
        print(f"{batch:>6}" + "".join(f"{1e3 * best[n]:>16.2f}" for n in names)
              + f"{speedup:>10.2f}x" + (f"{versus:>12.2f}x" if versus else f"{'-':>13}")
              + f"{share:>13}")
        if batch in BAR_BATCHES:
            met = speedup >= BAR_SPEEDUP and (versus is None or versus > 1)
            verdicts.append(f"B={batch} {'met' if met else 'NOT met'}")
    print(f"bar (bf16 >= {BAR_SPEEDUP}x fastnn fp32 and faster than torch autocast): "
          + "; ".join(verdicts))


def time_breakdown(batch, timing):
    """The bf16 step against its GEMMs alone (the same shapes, matmul(precision="bf16")) and
    its update alone (optimizer.step() over the same parameters)."""
    rng = np.random.default_rng(0)
    runners = {"step": compiled_step(BIG, batch, "bf16")}
    for what, m, n, k, form in step_products(BIG, batch):
        a, b = gemm_operands(m, n, k, form, np.float32, rng)
        trans_a, trans_b = GEMM_FORMS[form]
        out = np.empty((m, n), np.float32)
        runners[what] = (lambda a=a, b=b, out=out, ta=trans_a, tb=trans_b:
                         fastnn.matmul(a, b, trans_a=ta, trans_b=tb, out=out, precision="bf16"))
    model = fastnn_mlp(initial_parameters(BIG))
    for p in model.parameters():
        p.grad[...] = 1e-3
    opt = optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    runners["SGD update"] = opt.step
    best = interleaved_best(runners, clock=CLOCK, **timing)
    gemms = sum(seconds for what, seconds in best.items() if what not in ("step", "SGD update"))
    step = best["step"]
    print(f"\nwhere the bf16 step's {1e3 * step:.2f} ms go at B={batch} (each part timed alone):")
    for what, seconds in best.items():
        if what != "step":
            print(f"  {what:<16}{1e3 * seconds:8.3f} ms")
    print(f"  GEMMs alone {1e3 * gemms:.2f} ms ({100 * gemms / step:.0f}% of the step), SGD update "
          f"{1e3 * best['SGD update']:.2f} ms; the rest of the step (loss, dS and bias passes, the "
          f"update in the write-back) {1e3 * (step - gemms):.2f} ms")


def digits_split():
    from fastnn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    train, test = stratified_split(y, 0.25, seed=0)
    X_train, X_test = (x.astype(np.float32) for x in standardise(X[train], X[test]))
    return X_train, y[train], X_test, y[test]


def timed_fit(estimator, X, y, X_test, y_test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "max_iter reached": 50 epochs is the setting
        started = CLOCK()
        estimator.fit(X, y)
        seconds = CLOCK() - started
    return estimator.score(X_test, y_test), seconds


def engine_epochs(X, y, precision, epochs):
    """The digits network's 50 epochs on the compiled step's fit_epoch: SGD with Nesterov momentum
    at scikit-learn's default rate, batches of 64, reshuffled every epoch; CPU seconds."""
    sizes = [X.shape[1], 256, 256, 10]
    model = fastnn_mlp(initial_parameters(sizes)).to_precision(precision)
    opt = optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
    step = model.compile_step(nn.CrossEntropyLoss(), opt)
    started = CLOCK()
    for epoch in range(epochs):
        step.fit_epoch(X, y, 64, rng_seed=epoch)
    return CLOCK() - started


def digits_table(seeds):
    sklearn = optional_module("sklearn")
    X, y, X_test, y_test = digits_split()
    print(f"\ndigits MLP {DIGITS}, {len(y)} train / {len(y_test)} test, one core, {seeds} seed(s): "
          f"mean test accuracy, fastest fit (CPU s)")
    models = {"fastnn fp32": lambda seed: fastnn.MLPClassifier(**DIGITS, random_state=seed),
              "fastnn bf16": lambda seed: fastnn.MLPClassifier(**DIGITS, random_state=seed,
                                                               precision="bf16")}
    if sklearn is not None:
        from sklearn.neural_network import MLPClassifier
        models["scikit-learn"] = lambda seed: MLPClassifier(**DIGITS, random_state=seed)
    results = {name: [] for name in models}
    for seed in range(seeds):
        for name, make in models.items():  # interleaved, so that each sees the same load
            results[name].append(timed_fit(make(seed), X, y, X_test, y_test))
    engine = {p: min(engine_epochs(X, y, p, DIGITS["max_iter"]) for _ in range(seeds))
              for p in ("fp32", "bf16")}
    fit_seconds = {name: min(s for _, s in runs) for name, runs in results.items()}
    accuracy = {name: float(np.mean([a for a, _ in runs])) for name, runs in results.items()}
    for name in models:
        print(f"  {name:<14} accuracy {accuracy[name]:.4f}   fit {fit_seconds[name]:.3f} s"
              + (f"   ({fit_seconds['scikit-learn'] / fit_seconds[name]:.1f}x scikit-learn's speed)"
                 if "scikit-learn" in models and name != "scikit-learn" else ""))
    for precision, seconds in engine.items():
        print(f"  compiled fit_epoch x{DIGITS['max_iter']}, {precision}: {seconds:.3f} s"
              + (f"   ({fit_seconds['scikit-learn'] / seconds:.1f}x scikit-learn's fit)"
                 if "scikit-learn" in models else ""))
    gap = 100 * abs(accuracy["fastnn bf16"] - accuracy["fastnn fp32"])
    verdict = f"bf16 accuracy within {DIGITS_ACCURACY_POINTS} points of fp32: {gap:.2f} points, " \
              f"{'met' if gap <= DIGITS_ACCURACY_POINTS else 'NOT met'}"
    if "scikit-learn" in models:
        speedup = fit_seconds["scikit-learn"] / fit_seconds["fastnn bf16"]
        verdict += (f"; bf16 fit >= {DIGITS_SPEEDUP:.0f}x scikit-learn's: {speedup:.1f}x, "
                    f"{'met' if speedup >= DIGITS_SPEEDUP else 'NOT met'}")
    print("bar: " + verdict)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, one seed")
    args = parser.parse_args()
    timing = dict(rounds=3, round_seconds=0.05) if args.quick else dict(rounds=9, round_seconds=0.1)
    optional_module("torch")  # imported before thread_count, so that it sets torch's threads
    with thread_count(1):
        peaks = {"fp32": fma_peak_gflops(np.float32), "bf16": bf16_peak_gflops()}
        info = fastnn.cpu_info()
        print(f"{info['brand']}, fastnn kernels {info['isa']}; one-core peaks: float32 "
              f"{peaks['fp32']:.1f} GFLOP/s, bf16 "
              + (f"{peaks['bf16']:.1f} GFLOP/s" if peaks["bf16"] else "none (no AVX512-BF16: bf16 "
                 "products run on the float32 kernels)")
              + f"; load average {os.getloadavg()[0]:.2f}")
        step_table(peaks, timing)
        time_breakdown(256, timing)
        digits_table(1 if args.quick else 3)


if __name__ == "__main__":
    main()
