"""Two-class problems that a linear model on the raw inputs cannot separate."""
import numbers

import numpy as np

from ._random import check_random_state


# 2-D float64 samples: X takes 16 bytes a row, and no array may hold more than intp's range of
# bytes; beyond that numpy's indexing fails (IndexError) or wraps (empty arrays).
MAX_SAMPLES = np.iinfo(np.intp).max // 16


def _check_n_samples(n_samples, minimum, caller):
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < minimum:
        raise ValueError(f"{caller}: n_samples must be an int >= {minimum}, got {n_samples!r}")
    if n_samples > MAX_SAMPLES:
        raise ValueError(f"{caller}: n_samples={n_samples} is more than an array can hold "
                         f"(at most {MAX_SAMPLES})")
    return int(n_samples)


def _check_noise(noise, caller):
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"{caller}: noise must be a real number >= 0, got {noise!r}")
    return float(noise)


def _balanced_labels(n_samples, n_groups):
    """n_samples labels 0..n_groups-1, the counts differing by at most one."""
    return np.arange(n_samples) % n_groups


def make_xor(n_samples=200, *, noise=0.2, shuffle=True, random_state=None):
    """The XOR problem: points around the four corners (±1, ±1), labelled 1 where the corner's
    coordinates differ in sign (u·v = −1) and 0 where they agree.

    Each point is its corner plus Gaussian noise of standard deviation `noise`; the label is the
    corner's, so for noise below about 0.5 the feature map Φ(u, v) = (u, v, u·v) makes the classes
    linearly separable (almost always), while (u, v) alone never is.

    Returns `(X, y)`: X (n_samples, 2) float64, y (n_samples,) int64 in {0, 1}; the four corners
    get n_samples // 4 points each, the first n_samples % 4 corners one more.

    >>> from fastnn.datasets import make_xor
    >>> X, y = make_xor(8, noise=0.0, shuffle=False)
    >>> X[:4].tolist(), y[:4].tolist()
    ([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n_samples = _check_n_samples(n_samples, 1, "make_xor")
    noise = _check_noise(noise, "make_xor")
    rng = check_random_state(random_state, "make_xor")
    corners = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    which = _balanced_labels(n_samples, 4)
    X = corners[which] + noise * rng.standard_normal((n_samples, 2))
    y = (corners[which, 0] != corners[which, 1]).astype(np.int64)
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    return X, y


def make_spirals(n_samples=200, *, n_turns=1.5, noise=0.0, n_classes=2, shuffle=True, random_state=None):
    """Interleaved spiral arms, one per class, winding `n_turns` times around the origin.

    Arm k's points, at evenly spaced t in (0, 1], lie at radius t and angle
    2π·n_turns·t + 2π·k/n_classes, plus Gaussian noise of standard deviation `noise`.

    Returns `(X, y)`: X (n_samples, 2) float64 inside roughly the unit disc, y (n_samples,)
    int64 in 0..n_classes-1, the class counts differing by at most one.

    >>> from fastnn.datasets import make_spirals
    >>> X, y = make_spirals(100, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 2), [0, 1])
    """
    n_samples = _check_n_samples(n_samples, 1, "make_spirals")
    noise = _check_noise(noise, "make_spirals")
    if isinstance(n_turns, bool) or not isinstance(n_turns, numbers.Real) or not n_turns > 0:
        raise ValueError(f"make_spirals: n_turns must be a real number > 0, got {n_turns!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or not 2 <= n_classes <= MAX_SAMPLES:
        raise ValueError(f"make_spirals: n_classes must be an int >= 2 (and <= {MAX_SAMPLES}), got {n_classes!r}")
    rng = check_random_state(random_state, "make_spirals")
    y = _balanced_labels(n_samples, n_classes).astype(np.int64)
    # The i-th point of its arm sits at t = (i + 1) / arm size: even spacing, no point at the centre.
    position_in_arm = np.arange(n_samples) // n_classes
    arm_size = np.bincount(y, minlength=n_classes)[y]
    t = (position_in_arm + 1) / arm_size
    angle = 2 * np.pi * (n_turns * t + y / n_classes)
    X = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
    X += noise * rng.standard_normal(X.shape)
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    return X, y
