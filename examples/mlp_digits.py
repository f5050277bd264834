"""An MLP on the 8x8 digits, fastnn beside scikit-learn's MLPClassifier with the same settings.

The issue's bar: 75/25 stratified split, standardised, hidden_layer_sizes=(256, 256), sgd with
momentum 0.9, batch 64, 50 epochs. Prints test accuracy and fit time for each library.

    python examples/mlp_digits.py                 # the bar's settings
    python examples/mlp_digits.py --seeds 3       # mean over three initialisations
    python examples/mlp_digits.py --threads 1     # both libraries on one thread
"""
import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from _common import standardise, stratified_split  # noqa: E402
from fastnn.datasets import load_digits  # noqa: E402


def fit_and_score(Model, settings, X_train, y_train, X_test, y_test):
    model = Model(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "max_iter reached": 50 epochs is the setting, not a failure
        started = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - started
    return model.score(X_test, y_test), seconds, model.n_iter_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=1, help="initialisations to average over")
    parser.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    parser.add_argument("--no-sklearn", action="store_true", help="skip scikit-learn")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    train, test = stratified_split(y, 0.25, seed=0)
    # float32 for both: each library then trains in float32, as both follow X's dtype
    X_train, X_test = (x.astype(np.float32) for x in standardise(X[train], X[test]))
    settings = dict(hidden_layer_sizes=(256, 256), solver="sgd", momentum=0.9, batch_size=64,
                    max_iter=args.epochs)
    print(f"digits: {len(train)} train / {len(test)} test, {X.shape[1]} features; {settings}")

    limit = None
    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    competitors = [("fastnn", fastnn.MLPClassifier)]
    if not args.no_sklearn:
        try:
            from sklearn.neural_network import MLPClassifier as SklearnMLP
            competitors.append(("scikit-learn", SklearnMLP))
            if args.threads is not None:
                from threadpoolctl import threadpool_limits
                limit = threadpool_limits(args.threads)
        except ImportError:
            print("scikit-learn is not installed: fastnn alone")
    print(f"fastnn threads: {fastnn.get_num_threads()}" + (f", BLAS threads limited to {args.threads}" if limit else ""))

    results = {}
    for seed in range(args.seeds):
        for name, Model in competitors:
            accuracy, seconds, epochs = fit_and_score(Model, dict(settings, random_state=seed),
                                                      X_train, y[train], X_test, y[test])
            results.setdefault(name, []).append((accuracy, seconds))
            print(f"  seed {seed}  {name:13s} test accuracy {accuracy:.4f}  fit {seconds:6.3f} s  ({epochs} epochs)")
    for name, runs in results.items():
        accuracy, seconds = np.mean(runs, axis=0)
        print(f"{name:13s} mean test accuracy {accuracy:.4f}, mean fit time {seconds:.3f} s")
    if len(results) == 2:
        ours, theirs = (np.mean(results[n], axis=0) for n in ("fastnn", "scikit-learn"))
        print(f"fastnn fit is {theirs[1] / ours[1]:.1f}x faster; accuracy difference {ours[0] - theirs[0]:+.4f}")


if __name__ == "__main__":
    main()
