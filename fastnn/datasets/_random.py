"""One rule for `random_state` arguments, shared by the generators and the estimators."""
import numbers

import numpy as np


def check_random_state(random_state, caller="random_state"):
    """A numpy Generator from None (fresh entropy), an int seed, a Generator (used as is) or a
    legacy RandomState (which seeds a new Generator, so it advances as scikit-learn's would).

    >>> int(check_random_state(0).integers(10)) == int(check_random_state(0).integers(10))
    True
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"{caller}: random_state must be >= 0, got {random_state}")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        f"{caller}: random_state must be None, an int, a numpy Generator or RandomState,"
        f" got {type(random_state).__name__}")
