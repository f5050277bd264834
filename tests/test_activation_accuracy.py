"""Accuracy of the float32 activations and derivatives, in ulps, for every instruction set.

Each kernel set is forced with FASTNN_ISA in a child Python that runs this file as a script: it
sweeps float32 densely (every 8191st bit pattern of the whole range, and every 2053rd in
[-20, 20], where the functions change) plus the special values, compares with float64
references written from the definitions, and prints the worst error per function as JSON.

The error is |got - exact| in units of float32's spacing at the exact value. The GELU
derivatives cross zero (near s = -0.75), where no float evaluation has more than absolute
accuracy: their error is taken in ulps of the larger of the result and the size of its terms.
Kernels flush denormals (csrc/fp_env.h): a denormal input counts as 0, and an exact result
below 2^-116 may come out as anything that small (a product with e^u, u << 0, can lose e^u to
the flush while it is still below FLT_MIN times 2^10).
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastnn import _core

HERE = Path(__file__).resolve().parent
# Every kernel set's activations, each once (a set built on another shares its activations).
ISAS = _core.float_kernel_sets()
TINY = 2.0 ** -116
FLT_MIN = float(np.finfo(np.float32).tiny)

# Worst error allowed, in ulps. Measured at most, over the three kernel sets here and over every
# 7th float in C (tanh, sigmoid, GELU, GELU-tanh, the GELU derivatives in ulps of their terms):
# 1.5, 2.3, 2.9, 3.3, 3.0, 4.5. The libm forms these replace (0.5 s (1 + erf), 0.5 s (1 + tanh))
# lost every digit of the GELUs' negative tails.
BOUNDS = {"relu": 0, "tanh": 2, "sigmoid": 3, "gelu": 3.5, "gelu_tanh": 4, "relu'": 0,
          "tanh'": 2, "sigmoid'": 2, "gelu'": 4, "gelu_tanh'": 5,
          "leaky_relu": 0.5, "elu": 1.5, "silu": 3, "softplus": 3.5,
          "leaky_relu'": 0, "elu'": 0.5, "silu'": 4, "softplus'": 2.5}
# The parameters the new activations are swept with (as float32 holds them): the defaults, and a
# second value that exercises the parameter (a threshold crossed inside the sweep).
PARAMS = {"leaky_relu": {"negative_slope": 0.01}, "elu": {"alpha": 1.0}, "silu": {},
          "softplus": {"beta": 1.0, "threshold": 20.0}}
PARAMS_SECOND = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.5},
                 "softplus": {"beta": 2.5, "threshold": 3.0}}

_erfc = np.vectorize(math.erfc, otypes=[np.float64])
SQRT_2_PI = math.sqrt(2 / math.pi)


def sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def normal_cdf64(x):
    return 0.5 * _erfc(-x / math.sqrt(2))


def gelu_tanh_arg64(x):
    """2u with u = sqrt(2/pi) (x + 0.044715 x^3): 0.5 (1 + tanh(u)) = sigmoid(2u), without the
    cancellation of 1 + tanh(u) that float64 itself suffers for x << 0."""
    return 2 * SQRT_2_PI * (x + 0.044715 * x ** 3)


def references(x, params=None):
    """float64 (value, size of its terms) of each function at float32 x, denormals as 0; the
    parametrised ones with `params` (name -> parameters, PARAMS by default)."""
    params = PARAMS if params is None else params
    slope = float(np.float32(params["leaky_relu"]["negative_slope"]))
    alpha = float(np.float32(params["elu"]["alpha"]))
    beta = float(np.float32(params["softplus"]["beta"]))
    threshold = float(np.float32(params["softplus"]["threshold"]))
    x = np.where(np.abs(x) < FLT_MIN, np.copysign(0.0, x), x).astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.clip(x, -40, 40)  # the same values as x where it matters, no inf * 0
        y_tanh, y_sig = np.tanh(x), sigmoid64(x)
        cdf, pdf = normal_cdf64(x), np.exp(-0.5 * finite ** 2) / math.sqrt(2 * math.pi)
        u = gelu_tanh_arg64(finite)
        sig_u = sigmoid64(u)
        slope_u = sigmoid64(u) * sigmoid64(-u)
        du = 2 * SQRT_2_PI * (1 + 3 * 0.044715 * finite ** 2)
        gelu = np.where(np.isinf(x), np.where(x > 0, x, 0.0), x * cdf)
        gelu_tanh = np.where(np.isinf(x), np.where(x > 0, x, 0.0), x * sig_u)
        sig_minus = sigmoid64(-x)
        silu = np.where(np.isinf(x), np.where(x > 0, x, 0.0), x * y_sig)
        wide = np.clip(x, -200, 200)  # SiLU's tails reach further than 40
        silu_slope = y_sig * (1 + wide * sig_minus)
        silu_terms = y_sig * (1 + np.abs(wide) * sig_minus)
        # beta x rounded to float32 first, as the kernel forms it: the threshold test is on that
        u_beta = (np.float32(beta) * x.astype(np.float32)).astype(np.float64)
        smooth = (np.maximum(beta * x, 0) + np.log1p(np.exp(-np.abs(beta * x)))) / beta
        softplus = np.where(u_beta > threshold, x, smooth)
        softplus_slope = np.where(u_beta > threshold, 1.0, sigmoid64(beta * x))
    return {
        "leaky_relu": (np.where(np.isnan(x) | (x > 0), x, slope * x), None),
        "elu": (np.where(np.isnan(x) | (x > 0), x, alpha * np.expm1(np.minimum(x, 0))), None),
        "silu": (silu, None),
        "softplus": (softplus, None),
        "silu'": (silu_slope, silu_terms),
        "softplus'": (softplus_slope, None),
        "relu": (np.where(np.isnan(x) | (x > 0), x, 0.0), None),
        "tanh": (y_tanh, None),
        "sigmoid": (y_sig, None),
        "gelu": (gelu, None),
        "gelu_tanh": (gelu_tanh, None),
        "gelu'": (cdf + finite * pdf, cdf + np.abs(finite) * pdf),
        "gelu_tanh'": (sig_u + finite * slope_u * du, sig_u + np.abs(finite) * slope_u * du),
    }


def ulp_errors(got, exact, terms=None):
    """|got - exact| in float32 ulps of exact (or of the terms' size); 0 where both are the same
    special value or both are below TINY; inf where only one is NaN or infinite."""
    got = got.astype(np.float64)
    scale = np.abs(exact) if terms is None else np.maximum(np.abs(exact), terms)
    spacing = np.spacing(np.abs(scale).astype(np.float32)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(got - exact) / np.maximum(spacing, np.spacing(np.float32(FLT_MIN)))
    same = (got == exact) | (np.isnan(got) & np.isnan(exact))
    flushed = (np.abs(exact) < TINY) & (np.abs(got) < TINY)
    err = np.where(same | flushed, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def sweep_points():
    everywhere = np.arange(0, 2 ** 32, 8191, dtype=np.uint64).astype(np.uint32).view(np.float32)
    lo, hi = np.float32(-20).view(np.uint32), np.float32(20).view(np.uint32)
    negative = np.arange(np.uint32(0x80000000), lo, 2053, dtype=np.uint64).astype(np.uint32)
    positive = np.arange(0, hi, 2053, dtype=np.uint64).astype(np.uint32)
    specials = np.array([0.0, -0.0, 1e-40, -1e-40, FLT_MIN, -FLT_MIN, 1e-20, -1e-20, 88.7, -88.7,
                         104, -104, 1e30, -1e30, 3.4e38, -3.4e38, np.inf, -np.inf, np.nan],
                        dtype=np.float32)
    x = np.concatenate([everywhere, negative.view(np.float32), positive.view(np.float32),
                        specials])
    x[np.isnan(x)] = np.nan  # signalling NaNs would raise "invalid" in numpy's casts
    return x


def measure(params=None):
    """Worst error per function for the kernels of this process, and the arguments where."""
    import fastnn.functional as F

    params = PARAMS if params is None else dict(PARAMS, **params)
    x = sweep_points()
    ref = references(x, params)
    worst = {}

    def record(name, got, exact, terms=None, at=x):
        err = ulp_errors(got, exact, terms)
        i = int(np.argmax(err))
        worst[name] = (float(err[i]), float(at[i]))

    for name in ("relu", "tanh", "sigmoid", "gelu", "gelu_tanh"):
        record(name, F.activation(x, name), *ref[name])
    ones = np.ones_like(x)
    for name in ("gelu", "gelu_tanh"):
        record(name + "'", F.activation_backward(name, ones, input=x), *ref[name + "'"])
    for name in ("leaky_relu", "elu", "silu", "softplus"):
        record(name, F.activation(x, name, **params[name]), *ref[name])
    for name in ("silu", "softplus"):
        record(name + "'", F.activation_backward(name, ones, input=x, **params[name]),
               *ref[name + "'"])
    # ReLU, tanh and sigmoid differentiate from their output: every float32 output they can give
    y = np.concatenate([x, np.float32(1) - np.abs(x[np.abs(x) < 1])])
    y = np.where(np.abs(y) < FLT_MIN, np.float32(0), y).astype(np.float32)
    y64 = y.astype(np.float64)
    record("relu'", F.activation_backward("relu", np.ones_like(y), output=y),
           (y64 > 0).astype(np.float64), at=y)
    for name, derivative in (("tanh", (1 - y64) * (1 + y64)), ("sigmoid", y64 * (1 - y64))):
        inside = (np.abs(y) <= 1) if name == "tanh" else ((y >= 0) & (y <= 1))
        inside |= np.isnan(y)
        record(name + "'", F.activation_backward(name, np.ones_like(y[inside]), output=y[inside]),
               derivative[inside], at=y[inside])
    slope = float(np.float32(params["leaky_relu"]["negative_slope"]))
    record("leaky_relu'", F.activation_backward("leaky_relu", np.ones_like(y), output=y,
                                                **params["leaky_relu"]),
           np.where(y64 > 0, 1.0, slope), at=y)
    # ELU's outputs are > -alpha; from y its derivative is y + alpha, taken in ulps of alpha
    alpha = float(np.float32(params["elu"]["alpha"]))
    inside = (y64 > -alpha) | np.isnan(y)
    record("elu'", F.activation_backward("elu", np.ones_like(y[inside]), output=y[inside],
                                         **params["elu"]),
           np.where(y64[inside] > 0, 1.0, y64[inside] + alpha), np.full(inside.sum(), alpha),
           at=y[inside])
    return worst


def run_child(isa, *args):
    run = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args],
                         env=fastnn_env(FASTNN_ISA=isa), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("isa", ISAS)
def test_float32_activations_are_within_a_few_ulps(isa):
    import fastnn
    if isa not in fastnn.cpu_info()["isa_supported"]:
        pytest.skip(f"this CPU cannot run {isa}")
    worst = run_child(isa)
    assert set(worst) == set(BOUNDS)
    too_far = {name: worst[name] for name in BOUNDS if not worst[name][0] <= BOUNDS[name]}
    assert not too_far, f"{isa}: (ulps, at) beyond {BOUNDS}: {too_far}"


def test_parametrised_activations_with_other_parameters():
    """LeakyReLU, ELU and Softplus with parameters other than the defaults (Softplus's threshold
    inside the sweep), on the best kernel set: the parameters reach the kernels."""
    worst = run_child("", "second")
    names = [n for n in BOUNDS if n.rstrip("'") in PARAMS_SECOND]
    too_far = {name: worst[name] for name in names if not worst[name][0] <= BOUNDS[name]}
    assert not too_far, f"(ulps, at) beyond {BOUNDS}: {too_far}"


def test_special_values_give_the_limits():
    import fastnn.functional as F
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e30, -1e30], dtype=np.float32)
    expected = {
        "tanh": [1, -1, np.nan, 0, 0, 1, -1],
        "sigmoid": [1, 0, np.nan, 0.5, 0.5, 1, 0],
        "gelu": [np.inf, 0, np.nan, 0, 0, 1e30, 0],
        "gelu_tanh": [np.inf, 0, np.nan, 0, 0, 1e30, 0],
        "leaky_relu": [np.inf, -np.inf, np.nan, 0, 0, 1e30, -1e28],
        "elu": [np.inf, -1, np.nan, 0, 0, 1e30, -1],
        "silu": [np.inf, 0, np.nan, 0, 0, 1e30, 0],  # torch: NaN at -inf, we give the limit
        "softplus": [np.inf, 0, np.nan, np.log(2), np.log(2), 1e30, 0],
    }
    for name, values in expected.items():
        np.testing.assert_array_equal(F.activation(x, name), np.float32(values), err_msg=name)
    ones = np.ones_like(x)
    for name in ("gelu", "gelu_tanh", "silu", "softplus"):
        np.testing.assert_array_equal(F.activation_backward(name, ones, input=x),
                                      np.float32([1, 0, np.nan, 0.5, 0.5, 1, 0]), err_msg=name)
    for name in ("tanh", "sigmoid"):
        assert np.isnan(F.activation_backward(name, ones[:1], output=x[2:3]))[0]


def test_the_gelu_tails_keep_their_relative_accuracy():
    """Where 1 + erf and 1 + tanh cancel to nothing, the values are still there."""
    import fastnn.functional as F
    for name, s in (("gelu", np.float32([-5, -8, -10, -12])),
                    ("gelu_tanh", np.float32([-3, -5, -7, -9]))):
        exact = references(s)
        got = F.activation(s, name)
        assert (got < 0).all(), name
        assert ulp_errors(got, exact[name][0]).max() <= BOUNDS[name], name


if __name__ == "__main__":
    print(json.dumps(measure(PARAMS_SECOND if sys.argv[1:] == ["second"] else None)))
else:
    from support import fastnn_env
