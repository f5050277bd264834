"""An estimator's fitted state as plain data, for fastnn.save and fastnn.load.

Each estimator's `_get_fitted_state()` returns a flat dict of numpy arrays (numeric or unicode,
never object) and JSON scalars (None, bool, int, float, str), or None before fit; its
`_set_fitted_state(state)` reads such a dict back through a StateReader, which checks every
entry's type, dtype and shape against what came before (n_features_in_, classes_, ...) and
refuses entries left over, so a state from an edited file fails with a ValueError naming the
entry instead of building an estimator that predicts garbage.
"""
import numbers

import numpy as np

LABEL_KINDS = "biufU"


def portable_labels(classes):
    """classes_ as an array a file can hold without pickling: numeric and unicode labels as they
    are, an object array of strings as unicode, of integers as int64; TypeError otherwise."""
    classes = np.asarray(classes)
    if classes.dtype.kind in LABEL_KINDS:
        return classes
    values = classes.tolist()
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=str)
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    kinds = sorted({type(v).__name__ for v in values})
    raise TypeError(f"classes_ holds labels of type {kinds}: only numbers and strings can be saved")


class StateReader:
    """Takes a state dict's entries one at a time, each checked; `done()` refuses any left over.
    Every failure is a ValueError naming the entry."""

    def __init__(self, state, owner):
        self._state = dict(state)
        self._owner = owner

    def fail(self, name, problem):
        raise ValueError(f"{self._owner} fitted state: {name!r} {problem}")

    def has(self, name):
        return name in self._state

    def take(self, name):
        if name not in self._state:
            self.fail(name, "is missing")
        return self._state.pop(name)

    def array(self, name, dtypes, shape, nullable=False):
        """A C-contiguous copy of the array `name`, of one of `dtypes` and of `shape` (None in
        `shape`: any length on that axis); None if `nullable` and the entry is null."""
        value = self.take(name)
        if value is None and nullable:
            return None
        if not isinstance(value, np.ndarray):
            self.fail(name, f"must be an array, got {type(value).__name__}")
        if value.dtype not in [np.dtype(d) for d in dtypes]:
            self.fail(name, f"must have dtype {' or '.join(map(str, dtypes))}, got {value.dtype}")
        if value.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, value.shape)):
            wanted = tuple("any" if s is None else s for s in shape)
            self.fail(name, f"must have shape {wanted}, got {value.shape}")
        return np.array(value, order="C")

    def labels(self, name, minimum=2):
        """Class labels: 1-D, at least `minimum`, numeric or unicode, strictly increasing (as np.unique
        leaves them, which the label lookups rely on)."""
        value = self.take(name)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in LABEL_KINDS or value.ndim != 1:
            self.fail(name, "must be a 1-D array of numbers or strings")
        if len(value) < minimum or not np.all(value[1:] > value[:-1]):
            self.fail(name, f"must hold {minimum} or more distinct labels in increasing order, got {value!r}")
        return np.array(value)

    def integer(self, name, low=0):
        value = self.take(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.fail(name, f"must be an int >= {low}, got {value!r}")
        return value

    def number(self, name, nullable=False):
        """An int or a float, kept as it was (a power or a rate computes the same only so)."""
        value = self.take(name)
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(name, f"must be a number, got {value!r}")
        return value

    def boolean(self, name):
        value = self.take(name)
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, got {value!r}")
        return value

    def choice(self, name, options, nullable=False):
        value = self.take(name)
        if value is None and nullable:
            return None
        if not isinstance(value, str) or value not in options:
            self.fail(name, f"must be one of {list(options)}, got {value!r}")
        return value

    def numbers(self, name, dtype, nullable=False):
        """A list of Python numbers, stored as a 1-D array of `dtype`."""
        value = self.array(name, [dtype], (None,), nullable=nullable)
        return None if value is None else value.tolist()

    def done(self):
        if self._state:
            raise ValueError(f"{self._owner} fitted state: unexpected entries {sorted(self._state)}")
