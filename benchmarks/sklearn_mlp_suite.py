"""scikit-learn's own MLP test file, run against fastnn's classes and against scikit-learn's:
pass/skip counts and the time each run takes; then a few of its fits, timed one by one.

    python benchmarks/sklearn_mlp_suite.py                      # both runs, then the fits
    python benchmarks/sklearn_mlp_suite.py --fits               # the fits alone
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE taskset -c 0 python benchmarks/sklearn_mlp_suite.py

Each run is a pytest subprocess on a copy of sklearn/neural_network/tests/test_mlp.py (for
fastnn, with its one import line changed), scikit-learn's conftest loaded for its fixtures.
Times: the wall clock, and the CPU time of the subprocess (user + system), which a busy machine
inflates less. The fits are timed on this process's CPU clock, best of five.
"""
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's fastnn, as the suite's subprocesses get it
THEIR_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"


def run_suite(label, text):
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "test_mlp_copy.py"), "w", encoding="utf-8") as f:
            f.write(text)
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                                 "sklearn.conftest", "test_mlp_copy.py"], cwd=tmp, capture_output=True,
                                text=True, env=env)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]
    counts = ", ".join(f"{n} {w}" for n, w in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary))
    print(f"{label:34s} {counts:28s} wall {wall:6.1f} s   CPU {cpu:6.1f} s")


def best_cpu_seconds(fit, repeats=5):
    best = np.inf
    for _ in range(repeats):
        started = time.process_time()
        fit()
        best = min(best, time.process_time() - started)
    return best


def time_fits():
    import sklearn.neural_network as theirs
    from sklearn.datasets import load_digits, make_regression
    from sklearn.preprocessing import MinMaxScaler, scale

    import fastnn
    X_reg, y_reg = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7)
    y_reg = scale(y_reg)
    X_dig, y_dig = load_digits(n_class=3, return_X_y=True)
    X_dig = MinMaxScaler().fit_transform(X_dig[:200])
    y_dig = y_dig[:200]
    cases = [
        ("lbfgs regression 10-50-1, 200 it", "MLPRegressor", X_reg, y_reg,
         dict(solver="lbfgs", hidden_layer_sizes=50, max_iter=200, tol=1e-3, random_state=1)),
        ("lbfgs digits 64-50-3, 150 it", "MLPClassifier", X_dig, y_dig,
         dict(solver="lbfgs", hidden_layer_sizes=50, max_iter=150, random_state=1)),
        ("sgd digits 64-100-3, 100 epochs", "MLPClassifier", X_dig, y_dig,
         dict(solver="sgd", max_iter=100, tol=0, alpha=1e-5, learning_rate_init=0.2, random_state=1)),
        ("adam digits 64-100-3, 200 epochs", "MLPClassifier", X_dig, y_dig,
         dict(max_iter=200, tol=0, random_state=1)),
    ]
    try:  # text-like sparse input: 2000 rows of 20000 features, 100 nonzeros a row
        from scipy import sparse
        rng = np.random.default_rng(0)
        X_text = sparse.random(2000, 20000, density=0.005, format="csr", random_state=0, dtype=np.float64)
        y_text = (X_text @ rng.standard_normal(20000) > 0).astype(int)
        cases.append(("sgd sparse 20000-100-1, 5 epochs", "MLPClassifier", X_text, y_text,
                      dict(hidden_layer_sizes=100, solver="sgd", max_iter=5, random_state=1)))
    except ImportError:
        pass
    print(f"\n{'fit (CPU time, best of 5)':34s} {'fastnn':>10s} {'scikit-learn':>13s} {'speed-up':>9s}"
          "  iterations (fastnn, scikit-learn)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, estimator, X, y, params in cases:
            ours = best_cpu_seconds(lambda: getattr(fastnn, estimator)(**params).fit(X, y))
            reference = best_cpu_seconds(lambda: getattr(theirs, estimator)(**params).fit(X, y))
            iterations = [getattr(m, estimator)(**params).fit(X, y).n_iter_ for m in (fastnn, theirs)]
            print(f"{name:34s} {ours * 1e3:8.1f} ms {reference * 1e3:10.1f} ms {reference / ours:8.1f}x"
                  f"  {iterations[0]}, {iterations[1]}")


def main():
    import sklearn
    if "--fits" in sys.argv:  # the fits alone
        time_fits()
        return
    source = os.path.join(os.path.dirname(sklearn.__file__), "neural_network", "tests", "test_mlp.py")
    with open(source, encoding="utf-8") as f:
        text = f.read()
    print(f"scikit-learn {sklearn.__version__}: {source}")
    run_suite("fastnn's classes (import changed)",
              text.replace(THEIR_IMPORT, "from fastnn import MLPClassifier, MLPRegressor\n"))
    run_suite("scikit-learn's own classes", text)
    time_fits()


if __name__ == "__main__":
    main()
