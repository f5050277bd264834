"""The test oracle: every op of fastnn.functional written plainly in numpy, in float64.

Written from the definitions (PyTorch's where it has one), not from fastnn's kernels: direct
formulas, no fusion, computed in float64 whatever the input's dtype.
"""
import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def as64(x):
    return np.asarray(x, dtype=np.float64)


def round_to_bf16(x):
    """float32 x rounded to bfloat16 (nearest, ties to even), returned as float32: the rounding
    of fastnn's bf16 products, from the format's definition (the top 16 bits of a float32).
    Denormals go to zero of their sign, as VCVTNE2PS2BF16 treats them; NaN stays NaN."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    rounded = np.where((bits & 0x7F800000) == 0, bits & 0x80000000, rounded)
    rounded = np.where((bits & 0x7FFFFFFF) > 0x7F800000, bits | 0x00400000, rounded)
    return rounded.astype(np.uint32).view(np.float32)


# ---------------------------------------------------------------- activations

def identity(x):
    return as64(x).copy()


def relu(x):
    x = as64(x)
    return np.where(x > 0, x, np.where(np.isnan(x), x, 0.0))


def tanh(x):
    return np.tanh(as64(x))


def sigmoid(x):
    x = as64(x)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def gelu(x):
    x = as64(x)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    x = as64(x)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def leaky_relu(x, negative_slope=0.01):
    x = as64(x)
    return np.where(x > 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    x = as64(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def silu(x):
    x = as64(x)
    return x * sigmoid(x)


def softplus(x, beta=1.0, threshold=20.0):
    x = as64(x)
    u = beta * x
    with np.errstate(over="ignore"):
        return np.where(u > threshold, x, np.log1p(np.exp(np.minimum(u, threshold))) / beta)


FORWARD = {"identity": identity, "relu": relu, "tanh": tanh, "sigmoid": sigmoid, "gelu": gelu,
           "gelu_tanh": gelu_tanh, "leaky_relu": leaky_relu, "elu": elu, "silu": silu,
           "softplus": softplus}


def derivative(name, s, **params):
    """d act / d s at the pre-activation s, straight from calculus (parameters as torch names
    them, the defaults where not given)."""
    s = as64(s)
    if name == "leaky_relu":
        return np.where(s > 0, 1.0, params.get("negative_slope", 0.01))
    if name == "elu":
        return np.where(s > 0, 1.0, params.get("alpha", 1.0) * np.exp(np.minimum(s, 0)))
    if name == "silu":
        p = sigmoid(s)
        return p * (1 + s * (1 - p))
    if name == "softplus":
        beta, threshold = params.get("beta", 1.0), params.get("threshold", 20.0)
        return np.where(beta * s > threshold, 1.0, sigmoid(beta * s))
    if name == "identity":
        return np.ones_like(s)
    if name == "relu":
        return (s > 0).astype(np.float64)
    if name == "tanh":
        return 1.0 - np.tanh(s) ** 2
    if name == "sigmoid":
        p = sigmoid(s)
        return p * (1.0 - p)
    if name == "gelu":
        return 0.5 * (1.0 + _erf(s / math.sqrt(2.0))) + s * np.exp(-0.5 * s * s) / math.sqrt(2 * math.pi)
    if name == "gelu_tanh":
        c = math.sqrt(2.0 / math.pi)
        t = np.tanh(c * (s + 0.044715 * s**3))
        return 0.5 * (1.0 + t) + 0.5 * s * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * s * s)
    raise KeyError(name)


def softmax(x, dim=-1):
    x = as64(x)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def log_softmax(x, dim=-1):
    x = as64(x)
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def softmax_backward(grad_output, output, dim=-1):
    g, y = as64(grad_output), as64(output)
    return y * (g - (g * y).sum(axis=dim, keepdims=True))


def log_softmax_backward(grad_output, output, dim=-1):
    g, y = as64(grad_output), as64(output)
    return g - np.exp(y) * g.sum(axis=dim, keepdims=True)


# ---------------------------------------------------------------- linear

def linear(x, weight, bias=None, activation=None):
    """(y, s): s = x @ weight.T + bias, y = act(s)."""
    s = as64(x) @ as64(weight).T
    if bias is not None:
        s = s + as64(bias)
    return FORWARD[activation or "identity"](s), s


def linear_backward(grad_output, x, weight, pre_activation, activation=None):
    """(dx, dw, db) from the pre-activation s."""
    ds = as64(grad_output) * derivative(activation or "identity", pre_activation)
    return ds @ as64(weight), ds.T @ as64(x), ds.sum(axis=0)


# ---------------------------------------------------------------- losses

def reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def mse_loss(input, target, reduction="mean"):
    return reduce((as64(input) - as64(target)) ** 2, reduction)


def l1_loss(input, target, reduction="mean"):
    return reduce(np.abs(as64(input) - as64(target)), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0):
    d = np.abs(as64(input) - as64(target))
    return reduce(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def nll_loss(input, target, reduction="mean"):
    return reduce(-as64(input)[np.arange(len(target)), np.asarray(target)], reduction)


def binary_cross_entropy(input, target, reduction="mean"):
    p, t = as64(input), as64(target)
    with np.errstate(divide="ignore"):
        log_p, log_q = np.maximum(np.log(p), -100), np.maximum(np.log1p(-p), -100)
    return reduce(-(t * log_p + (1 - t) * log_q), reduction)


def cross_entropy(logits, target, reduction="mean"):
    log_p = log_softmax(logits)
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        losses = -log_p[np.arange(len(target)), target]
    else:
        losses = -(as64(target) * log_p).sum(axis=1)
    return reduce(losses, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    x, t = as64(logits), as64(target)
    # log σ(x) = -log(1 + e^{-x}); log(1 - σ(x)) = -log(1 + e^{x}); np.logaddexp is exact for both
    losses = t * np.logaddexp(0.0, -x) + (1 - t) * np.logaddexp(0.0, x)
    return reduce(losses, reduction)


def hinge_loss(scores, target, reduction="mean", margin=1.0):
    scores = as64(scores)
    target = np.asarray(target)
    if scores.ndim == 1 or scores.shape[1] == 1:
        losses = np.maximum(0.0, margin - as64(target).reshape(-1) * scores.reshape(-1))
    else:
        n, c = scores.shape
        correct = scores[np.arange(n), target][:, None]
        terms = np.maximum(0.0, margin - correct + scores)
        terms[np.arange(n), target] = 0.0
        losses = terms.sum(axis=1) / c
    return reduce(losses, reduction)


# ---------------------------------------------------------------- finite differences

def numerical_gradient(f, x, eps=1e-6):
    """Central differences of the scalar f at float64 array x (x is restored afterwards)."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        up = f(x)
        flat[i] = saved - eps
        down = f(x)
        flat[i] = saved
        gflat[i] = (up - down) / (2 * eps)
    return grad
