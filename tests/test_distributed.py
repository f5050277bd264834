"""fastnn.distributed: data-parallel training on two MPI ranks equals one process, a failing
rank ends every rank, and Dask predictions and grid search equal local ones.

The MPI scenarios live in tests/mpi_scenarios.py and run under `mpiexec -n 2` in a subprocess
with a timeout, so a hang fails the test instead of stalling the suite. They are skipped
without mpi4py or an mpiexec; the Dask tests without dask.distributed.
"""
import doctest
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import distributed
from support import fastnn_env

HERE = Path(__file__).resolve().parent
# the short fits here stop at max_iter on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Stochastic Optimizer:UserWarning")


def mpiexec():
    pytest.importorskip("mpi4py")
    found = shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec on PATH")
    return found


def run_on_two_ranks(*scenario, timeout=120):
    command = [mpiexec(), "-n", "2", sys.executable, "-W", "ignore", str(HERE / "mpi_scenarios.py"), *scenario]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=fastnn_env(OMP_NUM_THREADS="1"), stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def equivalence():
    run = run_on_two_ranks("equivalence")
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_ranks_train_the_layer_api_as_one_process(equivalence, optimizer):
    result = equivalence[f"layer_api {optimizer}"]
    assert result["moved"] > 1e-2  # training changed the weights, so the equality says something
    assert result["max_weight_difference"] < 1e-10
    assert result["max_loss_difference"] < 1e-10
    assert result["ranks_identical"]


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_two_ranks_fit_an_estimator_as_one_process(equivalence, solver):
    result = equivalence[f"estimator {solver}"]
    assert result["max_weight_difference"] < 1e-10
    assert result["max_loss_difference"] < 1e-10
    assert result["classes"] == [0, 1, 2]  # rank 1's shard lacks class 2
    assert result["t"] == [640, 640]
    assert result["ranks_identical"]


def test_uneven_shards_take_the_same_number_of_steps(equivalence):
    result = equivalence["uneven_epochs"]
    assert result["sizes"] == [[13, 13, 12, 12], [1, 1, 1, 0]] and result["covered"]


def test_ranks_with_different_networks_all_raise(equivalence):
    result = equivalence["mismatched_networks"]
    assert re.search(r"rank 1 has a network of 26 float\d+ parameters, rank 0 of 21 float", result["message"])
    assert len(set(result["everyone"])) == 1


def test_a_rank_that_raises_ends_every_rank():
    run = run_on_two_ranks("rank_raises", timeout=60)  # a hang raises TimeoutExpired: the test fails
    assert run.returncode != 0
    # the traceback's start always arrives; its last line may be cut when mpiexec tears down
    assert "Traceback (most recent call last)" in run.stderr
    assert "unreachable" not in run.stdout


def test_one_process_needs_no_mpiexec():
    pytest.importorskip("mpi4py")
    from fastnn.distributed import _comm, _data_parallel, _estimators

    for module in (_comm, _data_parallel, _estimators):
        assert doctest.testmod(module, raise_on_error=True).attempted > 0


def test_bad_arguments_are_refused():
    pytest.importorskip("mpi4py")
    from fastnn import nn

    with pytest.raises(TypeError, match="comm must be an mpi4py"):
        distributed.DistributedDataParallel(nn.Linear(2, 2), comm="world")
    with pytest.raises(TypeError, match="fastnn.nn.Module"):
        distributed.DistributedDataParallel(object())
    with pytest.raises(ValueError, match="no parameters"):
        distributed.DistributedDataParallel(nn.ReLU())
    model = distributed.DistributedDataParallel(nn.Sequential(nn.Linear(2, 2, rng=0)))
    with pytest.raises(ValueError, match="skip_batch"):
        model(np.zeros((0, 2), np.float32))
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        distributed.batches(10, 0)
    with pytest.raises(TypeError, match="MLPClassifier or MLPRegressor"):
        distributed.fit(fastnn.Perceptron(), np.ones((2, 2)), [0, 1])


# ---------------------------------------------------------------- Dask

@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.distributed")
    if os.environ.get("FASTNN_SANITIZED"):
        # worker processes under ASan take a minute to start; they run the kernels the
        # sanitized run already checks, through the same predict
        pytest.skip("the Dask cluster tests run in the plain run, not the sanitized one")
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"OMP_NUM_THREADS": "1"}) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def fitted():
    X, y = fastnn.datasets.make_spirals(300, noise=0.1, random_state=0)
    # float32, as the estimators computed before their dtype followed X: in float64 a block of
    # few rows takes the GEMM's dot kernels, whose sums round differently (1 ulp) from the
    # packed kernels' over all rows, so chunked predictions differ from whole ones in the last bit
    clf = fastnn.MLPClassifier((16,), max_iter=40, learning_rate_init=0.02, dtype=np.float32,
                               random_state=0).fit(X, y)
    return clf, X, y


def test_dask_array_predictions_equal_local_ones(dask_client, fitted):
    import dask.array as da

    clf, X, y = fitted
    lazy_X = da.from_array(X, chunks=(70, 1))  # columns split too: rechunked to whole rows
    labels, proba = distributed.predict(clf, lazy_X), distributed.predict_proba(clf, lazy_X)
    assert labels.chunks == ((70, 70, 70, 70, 20),) and proba.shape == (300, len(clf.classes_))
    np.testing.assert_array_equal(labels.compute(), clf.predict(X))
    np.testing.assert_array_equal(proba.compute(), clf.predict_proba(X))
    regressor = fastnn.MLPRegressor((8,), max_iter=30, random_state=0).fit(X, np.c_[X[:, 0], y])
    np.testing.assert_array_equal(distributed.predict(regressor, lazy_X).compute(), regressor.predict(X))


def test_dask_dataframe_predictions_equal_local_ones(dask_client, fitted):
    pytest.importorskip("dask.dataframe")
    import dask.dataframe as dd
    import pandas as pd

    clf, X, _ = fitted
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b"], index=np.arange(300) * 2), npartitions=3)
    labels = distributed.predict(clf, frame).compute()
    proba = distributed.predict_proba(clf, frame).compute()
    np.testing.assert_array_equal(labels.to_numpy(), clf.predict(X))
    np.testing.assert_array_equal(labels.index, np.arange(300) * 2)
    assert list(proba.columns) == list(clf.classes_)
    np.testing.assert_array_equal(proba.to_numpy(), clf.predict_proba(X))


def test_dask_predictions_ship_the_model_once(fitted):
    dask = pytest.importorskip("dask")
    import dask.array as da

    clf, X, _ = fitted
    graph = dict(distributed.predict(clf, da.from_array(X, chunks=30)).__dask_graph__())
    holding_the_model = [key for key, task in graph.items() if _holds(task, clf)]
    assert len(holding_the_model) == 1, holding_the_model
    with pytest.raises(TypeError, match="Dask array or DataFrame"):
        distributed.predict(clf, X)
    with pytest.raises(ValueError, match="2 columns"):
        distributed.predict(clf, da.ones((4, 3)))
    with pytest.raises(ValueError, match="not fitted"):
        distributed.predict(fastnn.MLPClassifier(), da.ones((4, 2)))
    del dask


def _holds(task, obj):
    if task is obj:
        return True
    value = getattr(task, "value", None)  # dask's DataNode
    if value is obj:
        return True
    return False


def test_grid_search_on_a_dask_cluster_equals_the_local_search(dask_client, fitted):
    pytest.importorskip("sklearn")
    import joblib
    from sklearn.model_selection import GridSearchCV

    from dask.distributed import get_task_stream

    _, X, y = fitted
    search = GridSearchCV(fastnn.MLPClassifier((8,), max_iter=15, random_state=0),
                          {"alpha": [1e-4, 1e-1], "learning_rate_init": [0.01, 0.05]}, cv=2)
    local = search.fit(X, y).cv_results_["mean_test_score"]
    with joblib.parallel_backend("dask"), get_task_stream(dask_client) as tasks:
        search.set_params(n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"], local)
    # the 4 candidates x 2 folds ran on the cluster's workers; joblib batches fast calls into one
    # task ("batch_of__fit_and_score_3_calls-..."), more of them the faster the fits are
    calls = [int(m.group(1)) if (m := re.search(r"batch_of_\w*?_(\d+)_calls", t["key"])) else 1
             for t in tasks.data if "fit_and_score" in t["key"]]
    assert sum(calls) >= 8, [t["key"] for t in tasks.data]


def test_example_trains_on_two_ranks_and_rank_zero_alone_prints(tmp_path):
    example = HERE.parent / "examples" / "distributed_mlp.py"
    command = [mpiexec(), "-n", "2", sys.executable, "-W", "ignore", str(example), "--epochs", "3",
               "--save", str(tmp_path / "model.npz")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, env=fastnn_env(OMP_NUM_THREADS="1"),
                         stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("epoch 3:") == 1 and "2 rank(s)" in run.stdout
    assert float(run.stdout.split("test accuracy ")[1].split()[0]) > 0.85  # chance is 0.1
    assert isinstance(fastnn.load(tmp_path / "model.npz"), fastnn.nn.Sequential)
