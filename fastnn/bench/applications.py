"""Whole uses rather than kernels: single-row inference latency against numpy's `@`, and a
scikit-learn-style fit (MLPClassifier on the digits) against the FLOP limit of its training steps.
"""
import math
import warnings

import numpy as np

from .flops import training_step_flops
from .timing import interleaved_best
from .training import fastnn_mlp, initial_parameters


def inference_pair(sizes, seed=0):
    """(fastnn, numpy) callables each running one forward pass of a ReLU MLP `sizes` on one row,
    with the same float32 weights."""
    params = initial_parameters(sizes, seed)
    model = fastnn_mlp(params)
    x = np.random.default_rng(seed + 1).standard_normal((1, sizes[0])).astype(np.float32)
    weights_t = [(np.ascontiguousarray(w.T), b) for w, b in params]

    def numpy_forward():
        h = x
        for layer, (wt, b) in enumerate(weights_t):
            h = h @ wt + b
            if layer < len(weights_t) - 1:
                h = np.maximum(h, 0)
        return h

    return (lambda: model(x)), numpy_forward


def latency_case(sizes, timing, clock):
    """One row: the best time of a single-row forward pass in fastnn and in numpy."""
    fastnn_forward, numpy_forward = inference_pair(sizes)
    np.testing.assert_allclose(fastnn_forward(), numpy_forward(), rtol=1e-3, atol=1e-4)
    best = interleaved_best({"fastnn": fastnn_forward, "numpy": numpy_forward}, clock=clock,
                            **timing)
    return {"sizes": list(sizes), "fastnn_s": best["fastnn"], "numpy_s": best["numpy"]}


def digits_fit_case(hidden=(256, 256), batch=64, epochs=5, runs=3, clock=None):
    """One row: the best of `runs` fits of MLPClassifier(hidden, batch_size=batch, `epochs`
    epochs of SGD with momentum) on the 1797 digits, and the FLOPs its training steps do."""
    import time

    from fastnn import MLPClassifier
    from fastnn.datasets import load_digits
    clock = clock or time.process_time
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    sizes = [x.shape[1], *hidden, int(y.max()) + 1]
    best = math.inf
    for _ in range(runs):
        model = MLPClassifier(hidden, solver="sgd", batch_size=batch, max_iter=epochs, tol=0.0,
                              n_iter_no_change=math.inf, learning_rate_init=0.05, random_state=0)
        start = clock()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it has not converged in a few epochs: not the point
            model.fit(x, y)
        best = min(best, clock() - start)
    full, tail = divmod(len(x), batch)
    per_epoch = full * training_step_flops(sizes, batch) + (training_step_flops(sizes, tail) if tail else 0)
    return {"sizes": sizes, "batch": batch, "epochs": epochs, "samples": len(x), "seconds": best,
            "flops": epochs * per_epoch}


def applications_section(latency_rows, digits_row, peak):
    lines = ["Single-row inference (ReLU MLP, float32, one thread, best time):"]
    for r in latency_rows:
        label = "-".join(map(str, r["sizes"]))
        lines.append(f"  {label:<18} fastnn {r['fastnn_s'] * 1e6:8.1f} us   numpy @ "
                     f"{r['numpy_s'] * 1e6:8.1f} us   numpy/fastnn {r['numpy_s'] / r['fastnn_s']:.2f}")
    if digits_row:
        r = digits_row
        share = r["flops"] / r["seconds"] / peak
        lines.append(f"Digits fit: MLPClassifier({tuple(r['sizes'][1:-1])}, batch {r['batch']}, "
                     f"{r['epochs']} epochs of SGD on {r['samples']} samples), one thread: "
                     f"{r['seconds'] * 1e3:.1f} ms, {100 * share:.0f}% of its FLOP limit (the "
                     "training steps' FLOPs at one core's measured peak)")
    return "\n".join(lines)
