"""fit and partial_fit: an MLP estimator trained data-parallel, each rank on its shard.

The estimator's own training loop runs on every rank, with the other ranks as its peers
(BaseMLP._peers): the weights broadcast from rank 0, every epoch cut into the same number of
steps on every rank, each step's loss and sample weight summed over the ranks before backward
and the gradient summed by one Allreduce on the network's flat gradient buffer after it. The
result is the estimator one process would train on the shards put together, batch by batch.
"""
import warnings

import numpy as np

from . import _comm


class _MPIPeers:
    """The other ranks of `comm`, as the MLP estimators' training loop asks for them."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()

    def broadcast(self, params):
        """Rank 0's weights to every rank, after checking that every rank has the same network
        (a ValueError on all ranks, rather than reductions of mismatched buffers)."""
        networks = self.comm.allgather((params.size, params.dtype.name))
        for rank, network in enumerate(networks):
            if network != networks[0]:
                raise ValueError(f"fastnn.distributed.fit: rank {rank} has a network of {network[0]} {network[1]} "
                                 f"parameters, rank 0 of {networks[0][0]} {networks[0][1]}: every rank must fit the "
                                 "same estimator on data with the same features")
        self.comm.Bcast(params, root=0)

    def total(self, *values):
        return _comm.agreed_total(self.comm, *values)

    def batches(self, n_samples, batch_size, order):
        return _comm.split_epoch(self.comm, np.arange(n_samples) if order is None else order, batch_size)

    def sum_gradients(self, grads):
        self.comm.Allreduce(_comm.require_mpi().IN_PLACE, grads, op=_comm.require_mpi().SUM)


def _all_classes(comm, y, classes):
    """Every rank's labels together (a shard may lack a class), unless `classes` names them."""
    if classes is not None:
        return classes
    labels = np.unique(np.asarray(y).ravel())
    return np.unique(np.concatenate(comm.allgather(labels)))


def _run(estimator, X, y, sample_weight, comm, incremental, classes):
    from ..estimators.mlp import BaseMLP, MLPClassifier

    caller = f"fastnn.distributed.{'partial_fit' if incremental else 'fit'}"
    if not isinstance(estimator, BaseMLP):
        raise TypeError(f"{caller}: estimator must be a fastnn MLPClassifier or MLPRegressor, "
                        f"got {type(estimator).__name__}")
    comm = _comm.resolve(comm, caller)
    _comm.abort_on_exception(comm)
    if isinstance(estimator, MLPClassifier):
        first_call = not hasattr(estimator, "classes_")
        if not incremental or first_call:
            classes = _all_classes(comm, y, classes)
        if incremental and first_call and classes is None:
            raise ValueError(f"{caller}: classes must be passed on the first call to partial_fit.")
    elif classes is not None:
        raise ValueError(f"{caller}: classes is for classifiers; {type(estimator).__name__} takes none")
    estimator._peers = _MPIPeers(comm)
    try:
        with warnings.catch_warnings():
            if comm.Get_rank() != 0:  # rank 0 alone speaks, as it alone prints progress
                warnings.simplefilter("ignore")
            return estimator._fit(X, y, sample_weight, incremental=incremental, classes=classes)
    finally:
        del estimator._peers


def fit(estimator, X, y, sample_weight=None, *, comm=None):
    """Fit an MLPClassifier or MLPRegressor on the union of every rank's (X, y), each rank
    passing its own shard, as one process would fit it on the shards put together.

    Call it on every rank of `comm` (default MPI.COMM_WORLD) with the same estimator parameters.
    `batch_size` is per rank: each step's global batch holds about ranks × batch_size samples,
    a rank with a larger shard taking proportionally more of them, and every rank runs the same
    number of steps. Classes are those of all shards together. Only rank 0 prints progress and
    warns; every rank ends with the same fitted estimator (save it from rank 0). Returns it.

    >>> import numpy as np
    >>> from fastnn import MLPRegressor
    >>> from fastnn.distributed import fit
    >>> X = np.linspace(-1, 1, 64).reshape(-1, 1)                 # one process: the plain fit
    >>> reg = fit(MLPRegressor((8,), max_iter=5, random_state=0), X, X.ravel())
    >>> reg.n_iter_
    5
    """
    return _run(estimator, X, y, sample_weight, comm, False, None)


def partial_fit(estimator, X, y, sample_weight=None, *, classes=None, comm=None):
    """One epoch of `fit` over every rank's shard, continuing from the estimator's state
    (each rank keeps the same state). For a classifier `classes` may be omitted: the first call
    then uses the labels of all shards together."""
    return _run(estimator, X, y, sample_weight, comm, True, classes)
