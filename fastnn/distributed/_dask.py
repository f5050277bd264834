"""predict and predict_proba on Dask collections, block by block on the workers.

The fitted estimator enters the task graph once, as one delayed object: the scheduler sends it
to each worker that needs it once, and every block's task reads it there, instead of carrying a
pickled copy in each task. The result is lazy, like any Dask collection: compute() or persist()
runs it.
"""
import numpy as np

_METHODS = ("predict", "predict_proba")


def _require_dask(caller):
    try:
        import dask
        import dask.array
    except ImportError as error:
        raise ImportError(f"{caller} needs dask: pip install 'fastnn[dask]'") from error
    return dask


def _is_dataframe(X):
    return type(X).__module__.startswith("dask.dataframe") or hasattr(X, "map_partitions") and hasattr(X, "columns")


def _probe(estimator, method, n_features, dtype):
    """The output's dtype and trailing shape, from one row of zeros run here (the output of an
    estimator's method does not depend on the number of rows)."""
    out = getattr(estimator, method)(np.zeros((1, n_features), dtype))
    return np.asarray(out).dtype, np.asarray(out).shape[1:]


def _apply_block(block, model, method, trailing, dtype):
    if block.shape[0] == 0:  # estimators refuse empty input; an empty block has an empty answer
        return np.empty((0,) + trailing, dtype)
    return np.asarray(getattr(model, method)(block))


def _apply_partition(frame, model, method, columns, dtype):
    import pandas as pd

    values = _apply_block(frame.to_numpy(), model, method, () if columns is None else (len(columns),), dtype)
    if columns is None:
        return pd.Series(values, index=frame.index, dtype=dtype)
    return pd.DataFrame(values, index=frame.index, columns=columns)


def _map(estimator, X, method):
    caller = f"fastnn.distributed.{method}"
    dask = _require_dask(caller)
    import dask.array as da

    if not hasattr(estimator, method):
        raise TypeError(f"{caller}: {type(estimator).__name__} has no {method}")
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None:
        raise ValueError(f"{caller}: the estimator is not fitted (it has no n_features_in_)")
    model = dask.delayed(estimator, pure=True)
    if _is_dataframe(X):
        if len(X.columns) != n_features:
            raise ValueError(f"{caller}: X has {len(X.columns)} columns, the estimator was fitted on {n_features}")
        dtype, trailing = _probe(estimator, method, n_features, np.float64)
        import pandas as pd
        if trailing == ():
            columns, meta = None, pd.Series([], dtype=dtype)
        else:
            labels = getattr(estimator, "classes_", None) if method == "predict_proba" else None
            columns = list(labels) if labels is not None else list(range(trailing[0]))
            meta = pd.DataFrame({c: pd.Series([], dtype=dtype) for c in columns}, columns=columns)
        return X.map_partitions(_apply_partition, model, method, columns, dtype, meta=meta)
    if not isinstance(X, da.Array):
        raise TypeError(f"{caller}: X must be a Dask array or DataFrame, got {type(X).__name__}; "
                        "for numpy data call the estimator's own method")
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"{caller}: X must be 2-D with {n_features} columns, got shape {X.shape}")
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})  # a block must hold whole rows
    dtype, trailing = _probe(estimator, method, n_features, X.dtype if X.dtype.kind == "f" else np.float64)
    if trailing == ():
        return X.map_blocks(_apply_block, model, method, trailing, dtype, dtype=dtype, drop_axis=1,
                            meta=np.empty((0,), dtype))
    return X.map_blocks(_apply_block, model, method, trailing, dtype, dtype=dtype,
                        chunks=(X.chunks[0], trailing), meta=np.empty((0, 0), dtype))


def predict(estimator, X):
    """`estimator.predict` over a Dask array (rows in blocks) or DataFrame, lazily, one task per
    block or partition on the workers; a Dask array, or a Dask Series (a DataFrame for several
    outputs) with X's index.

    >>> import dask.array as da, numpy as np
    >>> from fastnn import MLPRegressor
    >>> from fastnn.distributed import predict
    >>> X = np.linspace(-1, 1, 40).reshape(-1, 1)
    >>> reg = MLPRegressor((8,), max_iter=20, random_state=0).fit(X, X.ravel())
    >>> lazy = predict(reg, da.from_array(X, chunks=16))
    >>> lazy.chunks, bool((lazy.compute() == reg.predict(X)).all())
    (((16, 16, 8),), True)
    """
    return _map(estimator, X, "predict")


def predict_proba(estimator, X):
    """`estimator.predict_proba` over a Dask array or DataFrame, block by block on the workers:
    a Dask array (n_samples, n_classes), or a Dask DataFrame whose columns are classes_."""
    return _map(estimator, X, "predict_proba")
