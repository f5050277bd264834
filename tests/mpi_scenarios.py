"""Scenarios of fastnn.distributed run under `mpiexec -n 2 python tests/mpi_scenarios.py NAME`
(NAME: equivalence or rank_raises)
by tests/test_distributed.py. Rank 0 prints one JSON line of results; a failure exits non-zero.

The data-parallel runs are compared with one process training on the same global batches: at
each step the ranks' batches put together, in rank order, so the two differ only by the
rounding of the gradient's sums (float64 here).
"""
import json
import sys

import numpy as np
from mpi4py import MPI

import fastnn
from fastnn import nn, optim
from fastnn.distributed import DistributedDataParallel, batches, fit

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def make_model(seed):
    return nn.Sequential(nn.Linear(7, 13, dtype=np.float64, rng=seed), nn.ReLU(),
                         nn.Linear(13, 11, dtype=np.float64, rng=seed + 1), nn.Tanh(),
                         nn.Linear(11, 3, dtype=np.float64, rng=seed + 2))


def make_optimizer(name, params):
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    return optim.Adam(params, lr=0.01, weight_decay=1e-3)


def flat(model):
    return np.concatenate([p.data.ravel() for p in model.parameters()])


def layer_api(optimizer_name):
    """Uneven shares of each global batch (rank 0 takes more), one step where rank 1 has none."""
    data = np.random.default_rng(0)
    X, y = data.standard_normal((400, 7)), data.integers(0, 3, 400)
    # every rank draws the same global batches; rank r takes its share of each
    shares = [(17, 6), (9, 14), (23, 0), (1, 12), (30, 11), (5, 5), (12, 19), (8, 1)] * 3
    loss_fn = nn.CrossEntropyLoss()
    # rank 1 starts from other weights: the broadcast from rank 0 must replace them
    model = DistributedDataParallel(make_model(seed=10 * (rank + 1)), comm)
    opt = make_optimizer(optimizer_name, model.parameters())
    reference = make_model(seed=10)
    reference_opt = make_optimizer(optimizer_name, reference.parameters())
    start, losses = 0, []
    for share in shares:
        batch = np.arange(start, start + sum(share)) % len(X)
        start += sum(share)
        mine = batch[sum(share[:rank]):sum(share[:rank + 1])]
        opt.zero_grad()
        if len(mine):
            loss = loss_fn(model(X[mine]), y[mine])
            model.backward(loss_fn.backward(), need_input_grad=False, loss=loss)
        else:
            model.skip_batch()
        opt.step()
        reference_opt.zero_grad()
        reference_loss = loss_fn(reference(X[batch]), y[batch])
        reference.backward(loss_fn.backward(), need_input_grad=False)
        reference_opt.step()
        losses.append(abs(model.global_loss - reference_loss))
    weights = flat(model)
    everyone = comm.gather(weights)
    return {"max_weight_difference": float(np.abs(weights - flat(reference)).max()),
            "max_loss_difference": float(max(losses)),
            "ranks_identical": rank > 0 or all(np.array_equal(w, weights) for w in everyone),
            "moved": float(np.abs(weights - flat(make_model(seed=10))).max())}


def estimator(solver):
    """rank 0 holds 100 samples, rank 1 60 (without class 2); batch_size 16 per rank gives
    five steps of 20 + 12 samples, which one process with batch_size 32 sees as consecutive
    slices of the shards interleaved batch by batch."""
    data = np.random.default_rng(1)
    X, y = data.standard_normal((160, 5)), data.integers(0, 3, 160)
    y[100:] = y[100:] % 2
    weight = data.uniform(0.5, 2.0, 160) if solver == "adam" else None
    shard = slice(0, 100) if rank == 0 else slice(100, 160)
    params = dict(hidden_layer_sizes=(9, 6), solver=solver, batch_size=16, shuffle=False, alpha=1e-3,
                  max_iter=4, learning_rate_init=0.05, learning_rate="invscaling", power_t=0.3,
                  random_state=rank, dtype=np.float64, tol=0.0)
    clf = fit(fastnn.MLPClassifier(**params), X[shard], y[shard],
              None if weight is None else weight[shard], comm=comm)
    order = np.concatenate([np.r_[20 * s:20 * s + 20, 100 + 12 * s:100 + 12 * s + 12] for s in range(5)])
    reference = fastnn.MLPClassifier(**dict(params, batch_size=32, random_state=0)).fit(
        X[order], y[order], None if weight is None else weight[order])
    weights = np.concatenate([c.ravel() for c in clf.coefs_ + clf.intercepts_])
    everyone = comm.gather(weights)
    expected = np.concatenate([c.ravel() for c in reference.coefs_ + reference.intercepts_])
    return {"max_weight_difference": float(np.abs(weights - expected).max()),
            "max_loss_difference": float(np.abs(np.subtract(clf.loss_curve_, reference.loss_curve_)).max()),
            "classes": clf.classes_.tolist(), "t": [clf.t_, reference.t_],
            "ranks_identical": rank > 0 or all(np.array_equal(w, weights) for w in everyone)}


def uneven_epochs():
    """batches(): the same number of steps on ranks with 50 and 3 samples; empty batches skipped."""
    n_local = 50 if rank == 0 else 3
    steps = batches(n_local, 8, comm, rng=np.random.default_rng(rank))
    sizes = comm.gather([len(b) for b in steps])
    covered = np.sort(np.concatenate(steps)).tolist() == list(range(n_local))
    model = DistributedDataParallel(nn.Sequential(nn.Linear(2, 3, rng=0)), comm)
    for b in steps:
        if len(b):
            out = model(np.ones((len(b), 2), np.float32))
            model.backward(np.ones_like(out) / len(b))
        else:
            model.skip_batch()
    return {"sizes": sizes, "covered": covered}


def mismatched_networks():
    """Ranks whose estimators differ all raise the same ValueError (no reduction of mismatched
    buffers)."""
    X, y = np.random.default_rng(rank).standard_normal((20, 3)), np.arange(20) % 2
    try:
        fit(fastnn.MLPClassifier((4 + rank,), max_iter=1), X, y, comm=comm)
    except ValueError as error:
        return {"message": str(error), "everyone": comm.allgather(str(error))}
    return {"message": None}


def rank_raises():
    """Rank 1 fails after the first step; rank 0 goes on into the next allreduce."""
    model = DistributedDataParallel(nn.Sequential(nn.Linear(2, 3, rng=0)), comm)
    for step in range(3):
        if rank == 1 and step == 1:
            raise RuntimeError("rank 1 fails on purpose")
        out = model(np.ones((4, 2), np.float32))
        model.backward(np.ones_like(out))
    print("unreachable: every rank finished", flush=True)


def equivalence():
    """Every run that must equal one process, in one launch (starting MPI costs seconds)."""
    return {"layer_api sgd": layer_api("sgd"), "layer_api adam": layer_api("adam"),
            "estimator sgd": estimator("sgd"), "estimator adam": estimator("adam"),
            "uneven_epochs": uneven_epochs(), "mismatched_networks": mismatched_networks()}


if __name__ == "__main__":
    result = {"equivalence": equivalence, "rank_raises": rank_raises}[sys.argv[1]]()
    if rank == 0:
        print(json.dumps(result))
