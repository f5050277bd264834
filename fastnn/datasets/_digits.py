"""The 8x8 handwritten digits, read from the copy embedded in the package."""
import os

import numpy as np

from ._bunch import Bunch

DIGITS_FILE = os.path.join(os.path.dirname(__file__), "data", "digits.npz")

DESCR = """\
Optical recognition of handwritten digits
-----------------------------------------
1,797 images of 8x8 pixels, 10 classes (the digits 0..9, about 180 of each). Each pixel counts
the "on" pixels of a 4x4 block of the original 32x32 bitmap, so its value is an integer 0..16.

Source: the test set of the UCI "Optical Recognition of Handwritten Digits" data, E. Alpaydin
and C. Kaynak (1998), https://doi.org/10.24432/C50P49, in the form scikit-learn distributes.
License: Creative Commons Attribution 4.0 International (CC BY 4.0).
"""


def load_digits(*, n_class=10, return_X_y=False):
    """The digits data set, as scikit-learn's `load_digits` returns it.

    Parameters
    ----------
    n_class : int, 1..10
        Keep the digits 0..n_class-1 only.
    return_X_y : bool
        Return `(data, target)` instead of a Bunch.

    Returns
    -------
    A `Bunch` with `data` (n, 64) float64 pixel counts 0..16, `target` (n,) int64 digits,
    `images` (n, 8, 8) float64 (the same pixels as `data`), `target_names` (the digits
    0..n_class-1), `feature_names` ("pixel_<row>_<col>") and `DESCR` (source and license);
    or `(data, target)` with `return_X_y=True`.

    >>> from fastnn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> X.shape, X.dtype, y.shape, sorted(set(y.tolist())) == list(range(10))
    ((1797, 64), dtype('float64'), (1797,), True)
    """
    if isinstance(n_class, bool) or not isinstance(n_class, (int, np.integer)) or not 1 <= n_class <= 10:
        raise ValueError(f"load_digits: n_class must be an int in 1..10, got {n_class!r}")
    with np.load(DIGITS_FILE) as stored:
        data = stored["pixels"].astype(np.float64)
        target = stored["target"].astype(np.int64)
    if n_class < 10:
        keep = target < n_class
        data, target = data[keep], target[keep]
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=data.reshape(-1, 8, 8),
        target_names=np.arange(n_class),
        feature_names=[f"pixel_{row}_{col}" for row in range(8) for col in range(8)],
        DESCR=DESCR,
    )
