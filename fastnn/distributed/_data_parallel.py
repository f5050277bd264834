"""DistributedDataParallel: one model per MPI rank, each step's gradients averaged by allreduce.

Every rank holds the same parameters (broadcast from rank 0 at construction) and its own shard
of the data. A step runs forward and backward on the local batch; the gradients, in the one
flat buffer that `Module.flatten_parameters` makes (each parameter's `.grad` a view into it),
are summed over the ranks, each weighted by its batch size, and divided by the global batch size: the mean gradient
over the global batch, the one a single process would compute on the ranks' batches put
together. Every rank then applies the same update with its own optimizer, so the replicas stay
identical without ever sending parameters again.

A Sequential is run as stages, one per layer with parameters (a Linear and the activation after
it stay one fused stage), and each stage's slice of the buffer is handed to MPI_Iallreduce as
soon as its backward has written it, while the earlier layers' backward still runs: the
communication overlaps computation as far as the MPI library progresses it in the background.
Other modules run as one stage, reduced after their backward.
"""
import numpy as np

from .. import nn
from . import _comm


def _stages(module):
    """The parts to run in order: slices of a Sequential, each starting at a module with
    parameters (leading parameter-free modules join the first), or the module itself."""
    if not isinstance(module, nn.Sequential):
        return [module]
    starts = [i for i, child in enumerate(module) if next(iter(child.parameters()), None) is not None]
    if len(starts) < 2:
        return [module]
    starts[0] = 0
    stages = [module[a:b] for a, b in zip(starts, starts[1:] + [len(module)])]
    owned = [id(p) for stage in stages for p in stage.parameters()]
    if len(owned) != len(set(owned)):  # a parameter shared across stages is complete only at the end
        return [module]
    return stages


def _backward(stage, grad_output, need_input_grad):
    if need_input_grad:
        return stage.backward(grad_output)
    if getattr(stage, "skips_input_grad", False):
        return stage.backward(grad_output, need_input_grad=False)
    stage.backward(grad_output)
    return None


def _segments(flat, stages):
    """Each stage's stretch [start, stop) of the flat buffer, or None if one is not contiguous."""
    where = {id(p): (int(start), int(start) + p.data.size) for p, start in zip(flat.params, flat.offsets)}
    segments = []
    for stage in stages:
        spans = sorted(where[id(p)] for p in stage.parameters())
        if any(a[1] != b[0] for a, b in zip(spans, spans[1:])):
            return None
        segments.append((spans[0][0], spans[-1][1]))
    return segments


class DistributedDataParallel(nn.Module):
    """Data-parallel training of `module` over the ranks of `comm` (default MPI.COMM_WORLD).

    Use it where the model was used: forward on the local batch, the loss, then
    `backward(grad_output, loss=...)` instead of the model's backward; `.grad` of every parameter
    then holds the gradient averaged over all ranks' samples, and every rank steps its optimizer.
    A rank whose shard has no batch for a step calls `skip_batch()` instead (see `batches`).

        model = DistributedDataParallel(nn.Sequential(...), comm)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for idx in batches(len(X), 256, comm, rng=rng):
            if len(idx) == 0:
                model.skip_batch(); opt.step(); continue
            out = model(X[idx])
            loss = loss_fn(out, y[idx])
            model.backward(loss_fn.backward(), need_input_grad=False, loss=loss)
            opt.step()                      # model.global_loss: the step's loss over all ranks

    The loss must be a mean over the local batch (reduction="mean"): each rank's gradient is
    weighted by its batch size, `grad_output.shape[0]`, or by `weight` when given (e.g. the sum
    of the batch's sample weights). `backward` overwrites the gradients (no accumulation across
    calls). The wrapper flattens the model's parameters (`flatten_parameters`): make the optimizer
after wrapping. `abort_on_error` installs `abort_on_exception`: an uncaught exception on any rank
    ends every rank instead of leaving them waiting.

    >>> import numpy as np
    >>> from fastnn import nn
    >>> from fastnn.distributed import DistributedDataParallel
    >>> model = DistributedDataParallel(nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1)))
    >>> out = model(np.ones((5, 3), np.float32))       # one process: a communicator of size 1
    >>> model.backward(np.ones_like(out) / 5, need_input_grad=False, loss=1.5)
    >>> model.global_loss, model.module[2].bias.grad.tolist()
    (1.5, [1.0, 1.0])
    """

    def __init__(self, module, comm=None, *, abort_on_error=True):
        if not isinstance(module, nn.Module):
            raise TypeError(f"DistributedDataParallel: module must be a fastnn.nn.Module, got {type(module).__name__}")
        comm = _comm.resolve(comm, "DistributedDataParallel")
        if abort_on_error:
            _comm.abort_on_exception(comm)
        params = list(module.parameters())
        if not params:
            raise ValueError("DistributedDataParallel: the module has no parameters to train")
        dtypes = sorted({p.data.dtype.name for p in params})
        if len(dtypes) > 1:
            raise TypeError(f"DistributedDataParallel: all parameters must share one dtype, got {dtypes}")
        self.module = module
        self.comm = comm
        self.global_loss = None
        self._check_same_model(params)
        self._flat = module.flatten_parameters()
        self._stages = _stages(module)
        self._segments = _segments(self._flat, self._stages)
        if self._segments is None:
            self._stages, self._segments = [module], [(0, self._flat.grad.size)]
        # this batch's weight and weight x loss, summed with the ranks' before backward
        self._totals = np.zeros(2, np.float64)
        comm.Bcast(self._flat.data, root=0)

    def _check_same_model(self, params):
        """ValueError on every rank (not a hang in the first allreduce) if the ranks' models differ."""
        mine = [(p.data.shape, p.data.dtype.name) for p in params]
        models = self.comm.allgather(mine)
        for rank, theirs in enumerate(models):
            if theirs != models[0]:
                raise ValueError(f"DistributedDataParallel: rank {rank} has parameters {theirs}, rank 0 has "
                                 f"{models[0]}: every rank must build the same model")

    def forward(self, x):
        if isinstance(x, np.ndarray) and x.ndim >= 1 and x.shape[0] == 0:
            raise ValueError("DistributedDataParallel.forward: the batch is empty; a rank without samples "
                             "for a step calls skip_batch() instead of forward and backward")
        for stage in self._stages:
            x = stage.forward(x)
        return x

    def backward(self, grad_output, need_input_grad=True, *, loss=None, weight=None):
        """Backward through the model, the gradients averaged over every rank's samples as each
        stage finishes; returns the gradient for the input (None with need_input_grad=False).
        `loss` (this batch's mean loss) makes `global_loss` the mean over every rank's batch."""
        if not isinstance(grad_output, np.ndarray) or grad_output.ndim < 1:
            raise TypeError(f"DistributedDataParallel.backward: grad_output must be an ndarray of the output's "
                            f"shape, got {type(grad_output).__name__}")
        weight = float(grad_output.shape[0] if weight is None else weight)
        if not weight >= 0 or not np.isfinite(weight):
            raise ValueError(f"DistributedDataParallel.backward: weight must be finite and >= 0, got {weight}")
        self.module.zero_grad()  # lazy: each layer then writes its gradient instead of adding
        MPI = _comm.require_mpi()
        total_weight = self._reduce_totals(weight, loss)
        if loss is None:
            self.global_loss = None
        # backward is linear in grad_output: scaled by this rank's share of the global batch, it
        # yields gradients whose plain sum over the ranks is the global mean (no pass over them)
        share = weight / total_weight if total_weight > 0 else 0.0
        grad_output = grad_output * np.asarray(share, grad_output.dtype)
        requests = []
        stages = self._stages
        for k in range(len(stages) - 1, -1, -1):
            grad_output = _backward(stages[k], grad_output, need_input_grad or k > 0)
            requests.append(self._reduce_segment(k))
            if k:
                MPI.Request.Testall(requests)  # lets MPI progress what has been started
        MPI.Request.Waitall(requests)
        if need_input_grad and share > 0:
            grad_output = grad_output * np.asarray(1.0 / share, grad_output.dtype)
        return grad_output

    def skip_batch(self):
        """Join this step's allreduce without a batch: zero gradient, zero weight."""
        self.module.zero_grad()
        self._reduce_totals(0.0, 0.0)
        requests = [self._reduce_segment(k) for k in range(len(self._stages) - 1, -1, -1)]
        _comm.require_mpi().Request.Waitall(requests)

    def _reduce_totals(self, weight, loss):
        """Sums this batch's weight and weight x loss with every rank's (a few microseconds:
        two numbers); sets global_loss and returns the global batch's weight."""
        MPI = _comm.require_mpi()
        self._totals[:] = (weight, 0.0 if loss is None else weight * float(loss))
        self.comm.Allreduce(MPI.IN_PLACE, self._totals, op=MPI.SUM)
        total_weight, total_loss = (float(v) for v in self._totals)
        self.global_loss = total_loss / total_weight if total_weight > 0 else None
        return total_weight

    def _reduce_segment(self, k):
        MPI = _comm.require_mpi()
        for p in self._stages[k].parameters():
            p.grad  # a parameter the backward did not reach still owes its zeros
        start, stop = self._segments[k]
        return self.comm.Iallreduce(MPI.IN_PLACE, self._flat.grad[start:stop], op=MPI.SUM)

    def extra_repr(self):
        return f"ranks={self.comm.Get_size()}, stages={len(self._stages)}"
