"""The MPI communicator: where it comes from, and what happens when one rank fails.

mpi4py is imported only here and only when a function needs it, so `import fastnn.distributed`
works (and the Dask half is usable) without MPI installed.
"""
import sys
import time

import numpy as np


def require_mpi():
    """mpi4py's MPI module, or an ImportError that says how to get it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            "fastnn.distributed's data-parallel training needs mpi4py and an MPI library: "
            "pip install 'fastnn[mpi]' (mpi4py and MPICH from PyPI wheels), or build mpi4py "
            "against your cluster's MPI (see the README's 'Scaling out')") from error
    return MPI


def resolve(comm, caller):
    """`comm`, or MPI.COMM_WORLD when it is None; TypeError for anything that is not an
    mpi4py intracommunicator."""
    MPI = require_mpi()
    if comm is None:
        return MPI.COMM_WORLD
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"{caller}: comm must be an mpi4py intracommunicator (e.g. MPI.COMM_WORLD), "
                        f"got {type(comm).__name__}")
    return comm


def abort_on_exception(comm=None):
    """Make an exception that nothing catches on this rank end every rank of `comm`.

    Without it, the failing rank exits while the others wait forever in their next collective
    (an allreduce never completes). The hook prints the traceback as Python would, then calls
    MPI_Abort, which makes mpiexec (or srun) stop every rank with an error. Installed once per
    process; `python -m mpi4py script.py` does the same for a whole script.
    """
    comm = resolve(comm, "abort_on_exception")
    previous = sys.excepthook
    if getattr(previous, "aborts_mpi", False) or comm.Get_size() == 1:
        return

    def abort(kind, value, traceback):
        previous(kind, value, traceback)
        sys.stdout.flush()
        sys.stderr.flush()
        # mpiexec forwards a rank's output through its own process, and Abort tears the job down
        # before that has read everything: a CI run lost the tail of the traceback. A pause on
        # this path only lets the forwarder catch up.
        time.sleep(0.5)
        comm.Abort(1)

    abort.aborts_mpi = True
    sys.excepthook = abort


def agreed_total(comm, *values):
    """The sums over every rank of a few numbers, in one float64 allreduce."""
    MPI = require_mpi()
    local = np.array(values, dtype=np.float64)
    total = np.empty_like(local)
    comm.Allreduce(local, total, op=MPI.SUM)
    return total


def batches(n_local, batch_size, comm=None, *, rng=None):
    """The minibatches of one epoch over this rank's `n_local` samples, as index arrays.

    Every rank gets the same number of steps, ceil(total samples / Σ batch_size over ranks), so
    no rank leaves the loop while others wait in an allreduce; a rank with a larger shard takes
    proportionally larger batches, so each step's global batch is about Σ batch_size. A batch
    may be empty when a rank holds fewer samples than steps: pass it to
    DistributedDataParallel.skip_batch(). `rng` (a numpy Generator) shuffles the shard first.

    >>> from fastnn.distributed import batches           # one process: plain minibatches
    >>> [len(b) for b in batches(10, 4)]
    [4, 3, 3]
    """
    comm = resolve(comm, "batches")
    for name, value, low in (("n_local", n_local, 0), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"batches: {name} must be an int >= {low}, got {value!r}")
    order = np.arange(n_local) if rng is None else rng.permutation(n_local)
    return split_epoch(comm, order, batch_size)


def split_epoch(comm, indices, batch_size):
    """`indices` (this rank's samples in the order to visit them) cut into the agreed number of
    nearly equal batches."""
    n_total, batch_total = agreed_total(comm, len(indices), batch_size)
    n_steps = int(-(-n_total // batch_total))
    return np.array_split(indices, n_steps) if n_steps else []
