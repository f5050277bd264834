"""fastnn.functional.linear / linear_backward with precision="bf16": the products on operands
rounded to bf16, everything else (bias, activation, dS, dbias) in float32; against float64 numpy
of the rounded operands."""
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import reference as R  # noqa: E402
from reference import round_to_bf16  # noqa: E402


def bound(a, b):
    """4 k eps |a||b|: float32 sums of exact bf16 products, any order."""
    return 4 * a.shape[1] * np.finfo(np.float32).eps * (np.abs(a) @ np.abs(b)) + 1e-6


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "gelu"])
def test_linear_bf16_forward(activation):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((37, 129)).astype(np.float32)
    w = rng.standard_normal((45, 129)).astype(np.float32)
    b = rng.standard_normal(45).astype(np.float32)
    pre = np.empty((37, 45), np.float32)
    y = F.linear(x, w, b, activation, pre_activation_out=pre, precision="bf16")
    xr, wr = round_to_bf16(x).astype(np.float64), round_to_bf16(w).astype(np.float64)
    expected_pre = xr @ wr.T + b
    assert (np.abs(pre - expected_pre) <= bound(xr, wr.T)).all()
    expected, _ = R.linear(round_to_bf16(x), round_to_bf16(w), b, activation)
    # the activations have slopes below 1.2 and are accurate to a few float32 ulps
    assert (np.abs(y - expected) <= 1.2 * bound(xr, wr.T) + 1e-6 * np.abs(expected)).all()


def test_linear_bf16_backward():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((33, 70)).astype(np.float32)
    w = rng.standard_normal((50, 70)).astype(np.float32)
    y = F.linear(x, w, np.zeros(50, np.float32), "relu", precision="bf16")
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw, db = F.linear_backward(g, x, w, activation="relu", output=y, precision="bf16")
    delta = (g * (y > 0)).astype(np.float32)  # dS in float32, then rounded for the products
    dr, xr, wr = (round_to_bf16(v).astype(np.float64) for v in (delta, x, w))
    assert (np.abs(dw - dr.T @ xr) <= bound(dr.T, xr)).all()
    assert (np.abs(dx - dr @ wr) <= bound(dr, wr)).all()
    np.testing.assert_allclose(db, delta.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)
    # bf16 changed the products: float32 ones differ by more than the sums' rounding
    dx32, dw32, _ = F.linear_backward(g, x, w, activation="relu", output=y)
    assert np.abs(dx32 - dx).max() > 1e-3


@pytest.mark.parametrize("call", [
    lambda x, w, p: F.linear(x, w, precision=p),
    lambda x, w, p: F.linear_backward(np.ones((x.shape[0], w.shape[0]), x.dtype), x, w, precision=p),
])
def test_bad_precision_names_the_argument(call):
    x, w = np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="precision must be one of"):
        call(x, w, "fp8")
    with pytest.raises(ValueError, match="precision='bf16' takes float32"):
        call(x.astype(np.float64), w.astype(np.float64), "bf16")
