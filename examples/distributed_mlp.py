"""Data-parallel training of an MLP on the 8x8 digits with fastnn.distributed, on MPI ranks.

Every rank takes its own shard of the training set (here every size-th sample; in real use each
rank reads only its part of the data); the gradients are averaged over the ranks each step, so
the ranks train one model together. Rank 0 alone prints and saves.

    mpiexec -n 2 python examples/distributed_mlp.py                    # the layer API
    mpiexec -n 2 python examples/distributed_mlp.py --estimator        # MLPClassifier
    srun -n 8 python examples/distributed_mlp.py                       # under Slurm
    python examples/distributed_mlp.py                                 # one process works too
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

import fastnn  # noqa: E402
from _common import standardise, stratified_split  # noqa: E402
from fastnn import nn, optim  # noqa: E402
from fastnn.datasets import load_digits  # noqa: E402
from fastnn.distributed import DistributedDataParallel, batches, fit  # noqa: E402


def train_layer_api(X, y, comm, epochs, batch_size, say):
    model = DistributedDataParallel(nn.Sequential(nn.Linear(64, 128, rng=0), nn.ReLU(),
                                                  nn.Linear(128, 10, rng=1)), comm)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(comm.Get_rank())  # each rank shuffles its own shard
    for epoch in range(epochs):
        total = steps = 0
        for batch in batches(len(X), batch_size, comm, rng=rng):
            opt.zero_grad()
            if len(batch) == 0:
                model.skip_batch()
            else:
                loss = loss_fn(model(X[batch]), y[batch])
                model.backward(loss_fn.backward(), need_input_grad=False, loss=loss)
            opt.step()
            total, steps = total + model.global_loss, steps + 1
        say(f"epoch {epoch + 1}: mean loss over all ranks {total / steps:.4f}")
    return model.module


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32, help="per rank")
    parser.add_argument("--estimator", action="store_true", help="train fastnn.MLPClassifier instead")
    parser.add_argument("--save", default=None, help="where rank 0 saves the model (.npz)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    say = print if rank == 0 else (lambda *a, **k: None)

    X, y = load_digits(return_X_y=True)
    train, test = stratified_split(y, 0.25, seed=0)  # the same split on every rank
    X_train, X_test = (x.astype(np.float32) for x in standardise(X[train], X[test]))
    y_train, y_test = y[train], y[test]
    shard = slice(rank, None, size)
    say(f"{size} rank(s); rank 0 holds {len(y_train[shard])} of {len(y_train)} training samples")

    started = time.perf_counter()
    if args.estimator:
        clf = fastnn.MLPClassifier((128,), solver="sgd", momentum=0.9, learning_rate_init=0.05,
                                   batch_size=args.batch_size, max_iter=args.epochs, random_state=0,
                                   verbose=True)
        model = fit(clf, X_train[shard], y_train[shard], comm=comm)
        accuracy = model.score(X_test, y_test)
    else:
        model = train_layer_api(X_train[shard], y_train[shard], comm, args.epochs, args.batch_size, say)
        accuracy = float(np.mean(model(X_test).argmax(axis=1) == y_test))
    say(f"test accuracy {accuracy:.3f} after {args.epochs} epochs in {time.perf_counter() - started:.2f} s")
    if rank == 0 and args.save:
        fastnn.save(args.save, model)
        say(f"saved to {args.save}")


if __name__ == "__main__":
    main()
