"""Training steps: one SGD-with-momentum step of an MLP classifier (forward, softmax
cross-entropy, backward, update) in fastnn.nn, in hand-written numpy, and in torch and jax when
installed, all on the same float32 weights and batch."""
import numpy as np

from .competitors import optional_module
from .machine import fma_peak_gflops
from .timing import interleaved_best

LEARNING_RATE = 0.01
MOMENTUM = 0.9


def initial_parameters(sizes, seed=0):
    """[(weight (out, in), bias (out,))] per layer, float32, the same for every library."""
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32),
             np.zeros(o, dtype=np.float32)) for i, o in zip(sizes[:-1], sizes[1:])]


def classification_batch(sizes, batch, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], size=batch)
    return x, y


def fastnn_mlp(params, last_activation=None):
    """nn.Sequential of Linear layers holding the (weight, bias) pairs `params`, ReLU between them
    and ReLU after the last too when `last_activation` is "relu": the model users build."""
    from fastnn import nn
    layers = []
    for w, b in params:
        linear = nn.Linear(w.shape[1], w.shape[0], dtype=w.dtype)
        linear.weight.data[...] = w
        linear.bias.data[...] = b
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*(layers if last_activation == "relu" else layers[:-1]))


def fastnn_step(sizes, batch, compiled=True):
    """A closure running one training step the way a fastnn user writes it (nn.Sequential,
    optim.SGD with momentum, CrossEntropyLoss, no input gradient for the first layer); returns
    the loss. Every section that times a fastnn training step times this one: the compiled step
    (model.compile_step: one C call, the optimizer fused into backward) unless `compiled` is
    False (the eager loop: zero_grad, forward, loss, backward, step)."""
    from fastnn import nn, optim
    model = fastnn_mlp(initial_parameters(sizes))
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    x, y = classification_batch(sizes, batch)
    if compiled:
        compiled_step = model.compile_step(loss_fn, opt)
        return lambda: compiled_step(x, y)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        model.backward(loss_fn.backward(), need_input_grad=False)
        opt.step()
        return loss
    return step


def numpy_step(sizes, batch):
    """A closure running one hand-written numpy training step; returns the loss."""
    params = initial_parameters(sizes)
    velocity = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    x, y = classification_batch(sizes, batch)
    rows = np.arange(batch)

    def step():
        hidden = [x]
        for layer, (w, b) in enumerate(params):
            s = hidden[-1] @ w.T + b
            hidden.append(np.maximum(s, 0) if layer < len(params) - 1 else s)
        logits = hidden.pop()
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = float(np.mean(log_z[:, 0] - shifted[rows, y]))
        grad = np.exp(shifted - log_z)
        grad[rows, y] -= 1
        grad /= batch
        for layer in reversed(range(len(params))):
            w, b = params[layer]
            h = hidden[layer]
            dw, db = grad.T @ h, grad.sum(axis=0)
            if layer > 0:
                grad = (grad @ w) * (h > 0)
            vw, vb = velocity[layer]
            vw *= MOMENTUM
            vw += dw
            vb *= MOMENTUM
            vb += db
            w -= LEARNING_RATE * vw
            b -= LEARNING_RATE * vb
        return loss
    return step


def torch_step(sizes, batch):
    """A closure running one torch training step; returns the loss."""
    torch = optional_module("torch")
    layers = []
    for w, b in initial_parameters(sizes):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    x, y = classification_batch(sizes, batch)
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def jax_step(sizes, batch):
    """A closure running one jit-compiled jax training step; returns the loss."""
    jax = optional_module("jax")
    jnp = jax.numpy
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in initial_parameters(sizes)]
    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
    x, y = classification_batch(sizes, batch)
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss_of(params):
        h = x
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w.T + b)
        w, b = params[-1]
        logits = h @ w.T + b
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    @jax.jit
    def update(params, velocity):
        loss, grads = jax.value_and_grad(loss_of)(params)
        velocity = jax.tree_util.tree_map(lambda v, g: MOMENTUM * v + g, velocity, grads)
        params = jax.tree_util.tree_map(lambda p, v: p - LEARNING_RATE * v, params, velocity)
        return params, velocity, loss

    state = {"params": params, "velocity": velocity}

    def step():
        state["params"], state["velocity"], loss = update(state["params"], state["velocity"])
        return float(loss)
    return step


STEPS = {"fastnn": fastnn_step, "numpy": numpy_step, "torch": torch_step, "jax": jax_step}


def peak_probe(readings):
    """A candidate for interleaved_best that measures one core's float32 FMA peak (a few short
    runs) and keeps each reading in `readings`: timed in the same rounds as the steps, so that a
    share of the FLOP limit divides by the peak of the moments the steps ran in. The clock moves
    within minutes on a shared VM (one Zen 5 VM: 272-289 GFLOP/s in one afternoon), and a peak
    read once before the table put the same B=256 step at 85% or 87% of "the" limit."""
    return lambda: readings.append(fma_peak_gflops("float32", seconds=0.002, runs=3))


def training_case(sizes, batch, libraries, timing, clock):
    """Time one training step per library, interleaved, by `clock`, each round's first call
    untimed (as benchmarks/training_step_bar.py times them), with the float32 FMA peak probed in
    the same rounds; one row per library, each with the best of those peak readings
    (`peak_gflops_f32_one_core`, GFLOP/s)."""
    steps = {lib: STEPS[lib](sizes, batch) for lib in libraries}
    readings = []
    best = interleaved_best({**steps, "peak probe": peak_probe(readings)}, clock=clock,
                            warm=True, **timing)
    return [{"sizes": list(sizes), "batch": batch, "library": lib, "seconds": best[lib],
             "samples_per_s": batch / best[lib], "peak_gflops_f32_one_core": max(readings)}
            for lib in libraries]
