"""Layers and MLPs: forward time, backward time, and their ratio against the FLOP prediction.

A layer is Linear + ReLU (width → width); an MLP is Linear + ReLU layers with an identity last
layer. Both are the nn.Sequential a user builds (bias and activation fused into the GEMM);
backward runs model.backward with and without the first layer's input gradient, after zero_grad:
what a training step does, minus the loss and the update.
"""
import numpy as np

from .flops import mlp_forward_flops, predicted_backward_ratio
from .timing import interleaved_best
from .training import fastnn_mlp

# Where the ratio is held to the prediction: the products must do enough arithmetic per byte
# they move for the FMA units, not memory, to set their pace. At ~100 GFLOP/s per core and some
# 10 GB/s per core from memory, the break-even is ~10 FLOP/byte; asking 32 leaves a margin for
# the elementwise passes (bias, activation, its derivative) that move bytes and do no products.
COMPUTE_BOUND_FLOPS_PER_BYTE = 32
# ... and enough work that a call's fixed cost (validation, allocation: a few microseconds per
# layer) is noise: 2e7 FLOPs take ~100 µs at the peak of one core.
COMPUTE_BOUND_MIN_FLOPS = 2e7
TOLERANCE = 0.20


def forward_bytes(sizes, batch, itemsize=4):
    """Bytes the forward products read and write: each layer's input, weights and output once."""
    return itemsize * sum(batch * i + i * o + batch * o for i, o in zip(sizes[:-1], sizes[1:]))


def arithmetic_intensity(sizes, batch):
    """Forward FLOPs per byte moved (float32)."""
    return mlp_forward_flops(sizes, batch) / forward_bytes(sizes, batch)


def is_compute_bound(sizes, batch):
    return (arithmetic_intensity(sizes, batch) >= COMPUTE_BOUND_FLOPS_PER_BYTE
            and mlp_forward_flops(sizes, batch) >= COMPUTE_BOUND_MIN_FLOPS)


class MLPWorkload:
    """Weights, a batch and an output gradient for an MLP of widths `sizes` with ReLU between
    layers and `last_activation` ("relu" or None) after the last, as an nn.Sequential;
    forward() and backward(need_input_grad) run it. backward() uses the last forward().

    >>> import numpy as np
    >>> mlp = MLPWorkload([8, 16, 4], batch=2)
    >>> mlp.forward().shape
    (2, 4)
    >>> dx, grads = mlp.backward(need_input_grad=False)
    >>> dx is None, [dw.shape for dw, db in grads]
    (True, [(16, 8), (4, 16)])
    """

    def __init__(self, sizes, batch, last_activation=None, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        self.sizes = list(sizes)
        params = [((rng.standard_normal((o, i)) / np.sqrt(i)).astype(dtype),
                   np.full(o, 0.01, dtype=dtype)) for i, o in zip(sizes[:-1], sizes[1:])]
        self.model = fastnn_mlp(params, last_activation)
        self.linears = [m for m in self.model if hasattr(m, "weight")]
        self.x = rng.standard_normal((batch, sizes[0])).astype(dtype)
        self.grad_output = rng.standard_normal((batch, sizes[-1])).astype(dtype)
        self.forward()

    def forward(self):
        return self.model(self.x)

    def backward(self, need_input_grad=True):
        self.model.zero_grad()
        dx = self.model.backward(self.grad_output, need_input_grad=need_input_grad)
        return dx, [(m.weight.grad, m.bias.grad) for m in self.linears]


def ratio_case(kind, sizes, batch, timing, clock, seed=0):
    """Time forward and both backwards of one layer or MLP, interleaved, by `clock`; one row."""
    # a layer is one Linear + ReLU, as it sits inside a network
    workload = MLPWorkload(sizes, batch, last_activation="relu" if kind == "layer" else None,
                           seed=seed)
    best = interleaved_best({
        "forward": workload.forward,
        "backward": lambda: workload.backward(True),
        "backward_no_input_grad": lambda: workload.backward(False),
    }, clock=clock, **timing)
    row = {
        "kind": kind, "sizes": list(sizes), "batch": batch,
        "forward_flops": mlp_forward_flops(sizes, batch),
        "flops_per_byte": arithmetic_intensity(sizes, batch),
        "compute_bound": is_compute_bound(sizes, batch),
        "forward_s": best["forward"],
        "backward_s": best["backward"],
        "backward_no_input_grad_s": best["backward_no_input_grad"],
    }
    for mode, key in (("input_grad", "backward"), ("no_input_grad", "backward_no_input_grad")):
        predicted = predicted_backward_ratio(sizes, need_input_grad=mode == "input_grad")
        measured = best[key] / best["forward"]
        row[f"ratio_{mode}"] = measured
        row[f"predicted_{mode}"] = predicted
        row[f"within_{mode}"] = abs(measured / predicted - 1) <= TOLERANCE
    row["forward_gflops"] = row["forward_flops"] / best["forward"] * 1e-9
    return row
