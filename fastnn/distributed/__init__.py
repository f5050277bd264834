"""Training and prediction beyond one process: data-parallel training on MPI, prediction and
hyper-parameter search on Dask.

MPI (`pip install 'fastnn[mpi]'`; launched as `mpiexec -n 4 python train.py`):

- `DistributedDataParallel(model, comm)`: wraps a layer-API model; its `backward` averages the
  gradients over the ranks by allreduce, layer by layer as they are ready.
- `fit(estimator, X, y, comm=comm)` and `partial_fit(...)`: an MLPClassifier or MLPRegressor
  trained on every rank's shard (X, y) as one estimator on the union of the shards.
- `batches(n_local, batch_size, comm)`: an epoch's minibatches, the same number on every rank.
- `abort_on_exception(comm)`: an uncaught exception on one rank ends them all.

Dask (`pip install 'fastnn[dask]'`):

- `predict(estimator, X)`, `predict_proba(estimator, X)`: lazily, block by block on the workers,
  for a Dask array or DataFrame X, the fitted model shipped once.
- `GridSearchCV` over fastnn estimators runs on a Dask cluster through joblib's "dask" backend
  (see the README's "Scaling out").

Neither mpi4py nor dask is imported until a function needs it.
"""
from ._comm import abort_on_exception, batches
from ._dask import predict, predict_proba
from ._data_parallel import DistributedDataParallel
from ._estimators import fit, partial_fit

__all__ = ["DistributedDataParallel", "fit", "partial_fit", "batches", "abort_on_exception",
           "predict", "predict_proba"]
