"""Weight initialisation, in place, with torch.nn.init's definitions.

Each function fills a float32/float64 ndarray (or a `fastnn.nn.Parameter`'s `.data`) in place and
returns what it was given. `rng` is a numpy Generator or an int seed; None draws a fresh seed.
Fans follow torch: for a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and
fan_out = out * prod(kernel).
"""
import math

import numpy as np

__all__ = ["calculate_gain", "uniform", "normal", "constant", "zeros", "ones", "xavier_uniform",
           "xavier_normal", "kaiming_uniform", "kaiming_normal", "uniform_", "normal_", "constant_",
           "zeros_", "ones_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_"]


def _target(tensor, caller):
    """The ndarray behind `tensor` (an ndarray or anything holding one in `.data`), checked."""
    array = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", None)
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{caller}: expected a numpy.ndarray or a Parameter, got {type(tensor).__name__}")
    if array.dtype.type not in (np.float32, np.float64):
        raise TypeError(f"{caller}: the array must be float32 or float64, got {array.dtype}")
    if not array.flags.writeable:
        raise ValueError(f"{caller}: the array is read-only")
    return array


def _generator(rng, caller):
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"{caller}: rng must be a numpy.random.Generator, an int seed or None, "
                    f"got {type(rng).__name__}")


def _fans(array, caller):
    if array.ndim < 2:
        raise ValueError(f"{caller}: fan in and fan out need at least 2 dimensions, got shape {array.shape}")
    receptive_field = math.prod(array.shape[2:])
    return array.shape[1] * receptive_field, array.shape[0] * receptive_field


def calculate_gain(nonlinearity, param=None):
    """The gain torch recommends for `nonlinearity`: 1 for linear and sigmoid, 5/3 for tanh,
    √2 for relu, √(2 / (1 + a²)) for leaky_relu with slope a (`param`, default 0.01), 3/4 for selu.

    >>> round(calculate_gain("relu"), 4)
    1.4142
    """
    linear = ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)) or not math.isfinite(slope):
            raise ValueError(f"calculate_gain: negative slope {slope!r} is not a finite number")
        return math.sqrt(2.0 / (1 + float(slope) ** 2)) if abs(slope) < 1e150 else math.sqrt(2.0) / abs(slope)
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform(tensor, a=0.0, b=1.0, *, rng=None):
    """Fill with draws from U(a, b).

    >>> w = uniform(np.empty((2, 3), np.float32), -1, 1, rng=0)
    >>> bool(np.all((w >= -1) & (w <= 1)))
    True
    """
    array = _target(tensor, "uniform")
    if not a <= b:
        raise ValueError(f"uniform: need a <= b, got a={a}, b={b}")
    array[...] = _generator(rng, "uniform").uniform(a, b, array.shape)
    return tensor


def normal(tensor, mean=0.0, std=1.0, *, rng=None):
    """Fill with draws from N(mean, std²).

    >>> normal(np.empty(3), rng=0).shape
    (3,)
    """
    array = _target(tensor, "normal")
    if not std >= 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    array[...] = _generator(rng, "normal").normal(mean, std, array.shape)
    return tensor


def constant(tensor, val):
    """Fill with `val`.

    >>> constant(np.empty(2), 0.5)
    array([0.5, 0.5])
    """
    _target(tensor, "constant").fill(val)
    return tensor


def zeros(tensor):
    """Fill with zeros.

    >>> zeros(np.ones(2))
    array([0., 0.])
    """
    _target(tensor, "zeros").fill(0)
    return tensor


def ones(tensor):
    """Fill with ones.

    >>> import numpy as np
    >>> ones(np.zeros(2))
    array([1., 1.])
    """
    return constant(tensor, 1.0)


def xavier_uniform(tensor, gain=1.0, *, rng=None):
    """Glorot: U(−b, b) with b = gain · √(6 / (fan_in + fan_out)).

    >>> w = xavier_uniform(np.empty((4, 2)), rng=0)
    >>> bool(np.abs(w).max() <= 1.0)
    True
    """
    array = _target(tensor, "xavier_uniform")
    if array.size == 0:
        return tensor  # as torch: nothing to fill, no fan to divide by
    fan_in, fan_out = _fans(array, "xavier_uniform")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(tensor, -bound, bound, rng=rng)


def xavier_normal(tensor, gain=1.0, *, rng=None):
    """Glorot: N(0, std²) with std = gain · √(2 / (fan_in + fan_out)).

    >>> xavier_normal(np.empty((4, 2)), rng=0).shape
    (4, 2)
    """
    array = _target(tensor, "xavier_normal")
    if array.size == 0:
        return tensor  # as torch: nothing to fill, no fan to divide by
    fan_in, fan_out = _fans(array, "xavier_normal")
    return normal(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng=rng)


def _kaiming_std(array, a, mode, nonlinearity, caller):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{caller}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(array, caller)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", *, rng=None):
    """He: U(−b, b) with b = gain · √(3 / fan), gain = calculate_gain(nonlinearity, a) and fan the
    fan_in or fan_out (`mode`). `a` is the negative slope of leaky_relu.

    >>> w = kaiming_uniform(np.empty((3, 8)), nonlinearity="relu", rng=0)
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 8))
    True
    """
    array = _target(tensor, "kaiming_uniform")
    if array.size == 0:
        return tensor  # as torch: nothing to fill, no fan to divide by
    bound = math.sqrt(3.0) * _kaiming_std(array, a, mode, nonlinearity, "kaiming_uniform")
    return uniform(tensor, -bound, bound, rng=rng)


def kaiming_normal(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", *, rng=None):
    """He: N(0, std²) with std = gain / √fan (see kaiming_uniform).

    >>> kaiming_normal(np.empty((3, 8), np.float32), rng=0).dtype
    dtype('float32')
    """
    array = _target(tensor, "kaiming_normal")
    if array.size == 0:
        return tensor  # as torch: nothing to fill, no fan to divide by
    return normal(tensor, 0.0, _kaiming_std(array, a, mode, nonlinearity, "kaiming_normal"), rng=rng)


# torch's names: the trailing underscore marks an in-place function (all of these are), so
# `init.xavier_uniform_(layer.weight)` reads as in torch. The names above stay as aliases.
uniform_ = uniform
normal_ = normal
constant_ = constant
zeros_ = zeros
ones_ = ones
xavier_uniform_ = xavier_uniform
xavier_normal_ = xavier_normal
kaiming_uniform_ = kaiming_uniform
kaiming_normal_ = kaiming_normal
