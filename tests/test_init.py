"""fastnn.init: torch.nn.init's distributions, in place, seeded, with clear errors."""
import math

import numpy as np
import pytest

from fastnn import init
from fastnn.nn import Parameter

SHAPE = (300, 200)  # 60 000 draws: the sample moments sit within ~1% of the true ones
FAN_IN, FAN_OUT = 200, 300


def uniform_std(bound):
    return bound / math.sqrt(3)


CASES = [
    # function, kwargs, kind, bound (uniform) or std (normal)
    (init.xavier_uniform, {}, "uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (init.xavier_uniform, {"gain": 2.0}, "uniform", 2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (init.xavier_normal, {}, "normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (init.kaiming_uniform, {}, "uniform", math.sqrt(3) * math.sqrt(2 / (1 + 0.0)) / math.sqrt(FAN_IN)),
    (init.kaiming_uniform, {"a": math.sqrt(5)}, "uniform", 1 / math.sqrt(FAN_IN)),
    (init.kaiming_uniform, {"mode": "fan_out", "nonlinearity": "relu"}, "uniform",
     math.sqrt(3) * math.sqrt(2) / math.sqrt(FAN_OUT)),
    (init.kaiming_normal, {}, "normal", math.sqrt(2) / math.sqrt(FAN_IN)),
    (init.kaiming_normal, {"nonlinearity": "tanh", "mode": "fan_out"}, "normal", (5 / 3) / math.sqrt(FAN_OUT)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("function, kwargs, kind, scale", CASES)
def test_distribution_bounds_and_moments(function, kwargs, kind, scale, dtype):
    w = np.full(SHAPE, np.nan, dtype=dtype)
    buffer = w.__array_interface__["data"][0]
    assert function(w, **kwargs, rng=0) is w
    assert w.__array_interface__["data"][0] == buffer and w.dtype == dtype  # filled in place
    std = scale if kind == "normal" else uniform_std(scale)
    if kind == "uniform":
        assert np.abs(w).max() <= scale
        assert np.abs(w).max() > 0.99 * scale  # the whole interval is used
    else:
        assert np.abs(w).max() > 3 * std  # tails, not a truncated draw
    assert abs(w.mean()) < 0.02 * std
    assert abs(w.std() / std - 1) < 0.015
    if kind == "uniform":  # flat: a quarter of the draws in each quarter of the interval
        counts = np.histogram(w, bins=4, range=(-scale, scale))[0] / w.size
        np.testing.assert_allclose(counts, 0.25, atol=0.01)


def test_seed_and_generator_are_deterministic():
    a = init.xavier_uniform(np.empty((4, 5)), rng=7)
    b = init.xavier_uniform(np.empty((4, 5)), rng=np.random.default_rng(7))
    c = init.xavier_uniform(np.empty((4, 5)), rng=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a shared Generator advances: two draws differ
    rng = np.random.default_rng(0)
    assert not np.array_equal(init.kaiming_normal(np.empty((3, 3)), rng=rng),
                              init.kaiming_normal(np.empty((3, 3)), rng=rng))


def test_parameter_is_filled_in_place():
    p = Parameter(np.zeros((3, 4), np.float32))
    data = p.data
    assert init.kaiming_uniform(p, rng=0) is p
    assert p.data is data and p.data.any() and not p.grad.any()


def test_fans_of_a_convolution_shaped_weight():
    w = init.xavier_uniform(np.empty((8, 4, 3, 3)), rng=0)
    bound = math.sqrt(6 / (4 * 9 + 8 * 9))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_zeros_constant_uniform_normal():
    w = np.ones((2, 3), np.float32)
    assert init.zeros(w) is w and not w.any()
    init.constant(w, 2.5)
    assert (w == 2.5).all()
    u = init.uniform(np.empty(10_000), -2.0, 3.0, rng=1)
    assert u.min() >= -2.0 and u.max() <= 3.0 and abs(u.mean() - 0.5) < 0.05
    n = init.normal(np.empty(10_000), 1.0, 0.5, rng=1)
    assert abs(n.mean() - 1.0) < 0.02 and abs(n.std() - 0.5) < 0.02
    # a strided view is filled through, leaving the rest alone
    base = np.zeros((4, 4))
    init.constant(base[::2, 1:], 1.0)
    assert base.sum() == 6 and base[0, 0] == 0


def test_empty_arrays_are_a_no_op():
    w = np.empty((0, 5))
    assert init.kaiming_uniform(w) is w
    assert init.xavier_normal(np.empty((3, 0))).shape == (3, 0)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform(np.empty(5))
    with pytest.raises(TypeError, match="float32 or float64"):
        init.zeros(np.ones(3, np.int64))
    with pytest.raises(TypeError, match="numpy.ndarray or a Parameter"):
        init.zeros([1.0, 2.0])
    readonly = np.ones(3)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        init.constant(readonly, 0)
    with pytest.raises(TypeError, match="rng must be"):
        init.normal(np.empty(3), rng="seed")
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal(np.empty((2, 2)), mode="fan_avg")
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform(np.empty(2), 1.0, 0.0)


def test_gains_match_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                        ("leaky_relu", 0.3), ("selu", None), ("conv2d", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
