"""The convolution, pooling and batch-norm kernels against the float64 reference on the kernels of
the instruction set fastnn chose (FASTNN_ISA), both dtypes: the convolution runs each set's own
kernels (its loop nest over the GEMM micro-kernel, and the rows path's tile kernel), so every
set's tile sizes and edge tiles are exercised.

Run as a script (tests/test_conv_isa.py runs it once per instruction set); prints
"isa=<name> failures=<count>" last."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fastnn  # noqa: E402
from fastnn import functional as F  # noqa: E402

import reference_conv as refc  # noqa: E402
from test_conv import CONV_CASES, POOL_CASES, _case, _pair  # noqa: E402


def main():
    failures = 0
    for dtype in (np.float32, np.float64):
        tol = 2e-5 if dtype == np.float32 else 1e-11
        for case in CONV_CASES:
            x, w, b, args, ref_args = _case(case, dtype)
            y = F.conv2d(x, w, b, activation="relu", **args)
            dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
            dx, dw, db = F.conv2d_backward(dy, x, w, activation="relu", output=y, **args)
            s = refc.conv2d(x, w, b, **ref_args)
            # without a bias, and without an activation: the tiles start from zero, and nothing
            # is written back after them
            plain = F.conv2d(x, w, None, **args)
            error = np.abs(plain - (s - b[:, None, None])).max() / max(1.0, np.abs(s).max())
            if not error <= tol:
                failures += 1
                print(f"conv {case} {dtype.__name__} y without bias: relative error {error:.2e}")
            rdx, rdw, rdb = refc.conv2d_backward(dy * (s > 0), x, w, **ref_args)
            for name, got, want in (("y", y, np.maximum(s, 0)), ("dx", dx, rdx), ("dw", dw, rdw),
                                    ("db", db, rdb)):
                error = np.abs(got - want).max() / max(1.0, np.abs(want).max())
                if not error <= tol:
                    failures += 1
                    print(f"conv {case} {dtype.__name__} {name}: relative error {error:.2e}")
        for shape, kernel, stride, padding, dilation, ceil_mode in POOL_CASES:
            x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
            k, s = _pair(kernel), _pair(stride if stride is not None else kernel)
            got = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
            if not np.array_equal(got, refc.max_pool2d(x, k, s, _pair(padding), _pair(dilation), ceil_mode)):
                failures += 1
                print(f"max_pool2d {shape} {kernel} {dtype.__name__}: differs")
        x = np.random.default_rng(3).standard_normal((4, 3, 5, 5)).astype(dtype)
        got = F.batch_norm(x, None, None, training=True)
        want = refc.batch_norm_train(x, np.ones(3), np.zeros(3), 1e-5)[0]
        if not np.abs(got - want).max() <= tol * 10:
            failures += 1
            print(f"batch_norm {dtype.__name__}: differs")
    print(f"isa={fastnn.cpu_info()['isa']} failures={failures}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
