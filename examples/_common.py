"""Helpers the examples share: a stratified split and standardisation, in numpy."""
import numpy as np


def stratified_split(y, test_fraction, seed):
    """Indices (train, test): test_fraction of each class, chosen at random."""
    rng = np.random.default_rng(seed)
    test = np.concatenate([
        members[:round(test_fraction * len(members))]
        for members in (rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y))])
    return np.setdiff1d(np.arange(len(y)), test), np.sort(test)


def standardise(train, *others):
    """Each feature centred and scaled by the training rows' mean and deviation (constant
    features left at scale 1)."""
    mean, scale = train.mean(axis=0), train.std(axis=0)
    scale[scale == 0] = 1.0
    return [(x - mean) / scale for x in (train,) + others]
