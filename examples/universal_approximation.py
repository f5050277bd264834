"""Universal approximation: sin on [−π, π] by one hidden ReLU layer of growing width. Prints the
maximum error on a fine grid for each width: it falls as the layer widens (a ReLU layer is a
piecewise-linear function with at most `width` kinks).

    python examples/universal_approximation.py
    python examples/universal_approximation.py --epochs 300    # quicker, rougher
"""
import argparse
import time
import warnings

import numpy as np

from fastnn import MLPRegressor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--widths", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
    args = parser.parse_args()
    x = np.linspace(-np.pi, np.pi, 256).reshape(-1, 1)
    grid = np.linspace(-np.pi, np.pi, 2001).reshape(-1, 1)
    print(" width   max |sin − net| on [−π, π]   epochs   time")
    for width in args.widths:
        net = MLPRegressor((width,), activation="relu", solver="adam", learning_rate_init=0.01,
                           batch_size=64, max_iter=args.epochs, tol=0.0, n_iter_no_change=100,
                           random_state=0)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.fit(x, np.sin(x).ravel())
        max_error = np.max(np.abs(net.predict(grid) - np.sin(grid).ravel()))
        print(f"{width:6d}   {max_error:26.4f}   {net.n_iter_:6d}   {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
