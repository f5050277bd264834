"""Compiled networks: a model planned once, then a forward pass, a training step or a whole epoch
as one C call with the GIL released.

    step = model.compile_step(loss_fn, optimizer)     # a plan: buffers, epilogues, bindings
    loss = step(x, y)                                  # forward, loss, backward, update: one call
    predict = model.compile_forward()
    y = predict(x)

What a plan runs is what the layers declare (`Module.plan_op`): a Linear (with the activation a
Sequential fused into it) and the elementwise activations. A model holding any other layer cannot
be compiled, and says which layer at compile time. Losses declare themselves the same way
(`plan_loss`: cross-entropy on class indices, MSE, BCE with logits).

The optimizer runs inside backward: each weight is stepped in the write-back of its gradient's
GEMM (or, for batches of up to four rows, straight from the few-row sums, never forming dW),
with the arithmetic of `optimizer.step()`, so the two give the same weights. SGD (momentum,
Nesterov, dampening, weight decay, L1), Adam and AdamW (amsgrad too) are fused; the optimizer's
state (`optimizer.state`) is the plan's, so plain and compiled steps may be mixed.

Semantics worth knowing:
- a step is a whole `zero_grad(); forward; backward; optimizer.step()`: it starts from zero
  gradients, whatever `.grad` held, and consumes them: afterwards every optimized `.grad` reads
  as zeros (small batches never store dW at all); parameters outside the optimizer are left
  holding this batch's gradient;
- gradient accumulation: `step(x, y, update=False)` computes the batch's gradients into `.grad`
  (the first such step after an update starts from zero, the next add) and updates nothing; the
  next updating step adds its own and applies the sum (so accumulate over micro-batches with
  `reduction="sum"`, or scale as you would in a plain loop);
- learning rates are read from the optimizer's groups at every step (schedulers work as usual);
  after changing another hyper-parameter (momentum, weight decay, betas...) call `refresh()`;
- a parameter's `.data` or `.grad` replaced by another array, `optimizer.load_state_dict`, or a
  batch larger than any before rebuilds the plan at the next call (`.data[...] = ...` needs
  nothing);
- the modules' own forward caches are not filled: call `model.backward` only after `model(x)`;
- the layers are read at compile time: compile again after changing the model's structure or a
  layer's `precision` (a bf16 Linear's products run on bf16-rounded operands in the plan too,
  its update still in dW's write-back);
- one call at a time per compiled object (calls from several threads wait for each other).
"""
import threading

import numpy as np

from .. import _aligned as aligned
from .. import _core
from .. import functional as F
from .. import optim as _optim
from .module import describe

__all__ = ["CompiledStep", "CompiledForward", "compile_step", "compile_forward"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _steps_of(model):
    """The steps a model runs, after its own fusion (a Sequential's plan), or the model itself."""
    steps = getattr(model, "_steps", None)
    return steps() if steps is not None else [model]


def _ops_of(model):
    """[op dict] for the whole model, from each step's `plan_op()`; TypeError naming the first
    step that declares none."""
    ops = []
    for step in _steps_of(model):
        plan_op = getattr(step, "plan_op", None)
        op = plan_op() if plan_op is not None else None
        if op is None:
            name = describe(step) if hasattr(step, "extra_repr") else type(step).__name__
            raise TypeError(f"compile: {name} declares no C op (plan_op), so a compiled plan "
                            f"cannot run it; run this model with its plain forward/backward")
        ops += op if isinstance(op, list) else [op]
    linears = [op for op in ops if op["op"] == "linear"]
    if not linears:
        raise TypeError(f"compile: {type(model).__name__} has no Linear layer to compile")
    dtypes = {op["weight"].data.dtype for op in linears}
    if len(dtypes) != 1:
        raise TypeError(f"compile: the layers mix dtypes {sorted(map(str, dtypes))}")
    for op in ops:
        spec = F.activation_spec(op["activation"], "compile")
        if not isinstance(spec.kernel, int):
            raise TypeError(f"compile: {spec!r} has parameters, which compiled plans do not take; "
                            "run this model with its plain forward/backward")
        op["activation"] = spec
    # an activation's width is the layer before it's, or for a first one the next layer's input
    width = linears[0]["weight"].data.shape[1]
    for op in ops:
        if op["op"] == "linear":
            width = op["weight"].data.shape[0]
        else:
            op["width"] = width
    return ops, dtypes.pop()


def _check_rows(x, in_features, dtype, caller, name="x"):
    if type(x) is not np.ndarray:
        raise TypeError(f"{caller}: {name} must be a numpy.ndarray, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != in_features or x.shape[0] == 0 or x.dtype != dtype:
        raise ValueError(f"{caller}: expected {name} (N >= 1, {in_features}) of dtype {dtype}, "
                         f"got {x.shape} of dtype {x.dtype}")
    if not (x.flags.c_contiguous and x.flags.aligned):
        x = np.ascontiguousarray(x)
        if not x.flags.aligned:
            x = x.copy()
    return x


class _Network:
    """What a forward plan and a step plan share: the ops, the C plan and its buffers, rebuilt
    when the batch outgrows them or a parameter's arrays are replaced."""

    def __init__(self, model, caller):
        self.model, self.caller = model, caller
        self.lock = threading.Lock()  # the C plan's buffers serve one call at a time
        self.ops, self.dtype = _ops_of(model)
        self.in_features = self._in_features()
        last = self.ops[-1]
        self.out_features = last["weight"].data.shape[0] if last["op"] == "linear" else last["width"]
        self.params = [p for op in self.ops if op["op"] == "linear"
                       for p in (op["weight"], op["bias"]) if p is not None]
        self.plan = None
        self.capacity = 0

    def _in_features(self):
        first = self.ops[0]
        return first["weight"].data.shape[1] if first["op"] == "linear" else first["width"]

    def _bound(self):
        """(data, grad) arrays per parameter, as the plan holds them."""
        return [(p.data, p._grad) for p in self.params]

    def stale(self):
        for p, (data, grad) in zip(self.params, self.bindings):
            if p.data is not data or p._grad is not grad:
                return True
        return False

    def build(self, capacity, training):
        capacity = max(capacity, self.capacity)
        dtype = self.dtype
        plan = _core.Plan(dtype == np.float64, len(self.ops))
        widest = 1
        for i, op in enumerate(self.ops):
            if op["op"] == "linear":
                out_f, in_f = op["weight"].data.shape
                code = op["activation"].code
                output = aligned.empty((capacity, out_f), dtype)
                pre = aligned.empty((capacity, out_f), dtype) if training and op["activation"].derivative_from_input else None
                bias = op["bias"]
                for p in (op["weight"], bias):
                    if p is not None and not (p.data.flags.c_contiguous and p.data.flags.aligned
                                              and p._grad.flags.c_contiguous and p._grad.flags.aligned
                                              and p._grad.shape == p.data.shape
                                              and p._grad.dtype == p.data.dtype):
                        raise ValueError(f"{self.caller}: parameter {p.data.shape} needs aligned "
                                         f"C-contiguous .data and .grad of one shape and dtype")
                plan.set_layer(i, "linear", in_f, out_f, code, op["weight"].data,
                               None if bias is None else bias.data, op["weight"]._grad,
                               None if bias is None else bias._grad, output, pre,
                               op.get("precision", "fp32") == "bf16")
                widest = max(widest, in_f, out_f)
            else:
                width = op["width"]
                plan.set_layer(i, "activation", width, width, op["activation"].code,
                               output=aligned.empty((capacity, width), dtype))
                widest = max(widest, width)
        # on cache lines, as the parameters: at batch 1 the one-pass update reads a layer's input
        # and adds into its input gradient once per weight row (fastnn/_aligned.py); the user's
        # input is copied to input_line when it is not on one (csrc/plan.h)
        plan.set_buffers(capacity, aligned.empty((capacity, widest), dtype),
                         aligned.empty((capacity, widest), dtype),
                         input_line=aligned.empty((self.in_features,), dtype))
        self.plan, self.capacity, self.bindings = plan, capacity, self._bound()
        return plan


class CompiledForward:
    """`model.compile_forward()`: the model's forward pass as one C call.

    `predict(x, out=None)` returns act(... x·W₁ᵀ + b₁ ...) of shape (N, out) as a new array or in
    `out` (C-contiguous, of the model's dtype). Equal to `model(x)` to rounding (the same GEMM and
    epilogues; batches of any size, the buffers grow once to the largest).

    >>> import numpy as np
    >>> from fastnn import nn
    >>> model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
    >>> predict = model.compile_forward()
    >>> x = np.ones((2, 4), np.float32)
    >>> bool(np.allclose(predict(x), model(x)))
    True
    """

    def __init__(self, model):
        self._net = _Network(model, "compile_forward")

    def __call__(self, x, out=None):
        net = self._net
        x = _check_rows(x, net.in_features, net.dtype, "compiled forward")
        rows = x.shape[0]
        if out is None:
            out = np.empty((rows, net.out_features), net.dtype)
        elif (type(out) is not np.ndarray or out.shape != (rows, net.out_features)
              or out.dtype != net.dtype or not out.flags.c_contiguous or not out.flags.aligned
              or not out.flags.writeable):
            raise ValueError(f"compiled forward: out must be a writeable C-contiguous "
                             f"{(rows, net.out_features)} {net.dtype} array")
        elif np.may_share_memory(out, x):
            raise ValueError("compiled forward: out overlaps x; pass a separate array")
        with net.lock:
            if rows > net.capacity or net.stale():
                net.build(rows, training=False)
            return net.plan.forward(x, out)


class CompiledStep:
    """`model.compile_step(loss_fn, optimizer)`: a training step as one C call.

    `step(x, target, update=True)` runs forward, the loss and its gradient, backward with the
    optimizer fused in, and returns the loss (a float). `target` is what `loss_fn` takes: class
    indices (N,) for CrossEntropyLoss, (N, out) values for MSELoss and BCEWithLogitsLoss.
    `step.fit_epoch(X, y, batch_size, rng_seed)` runs a whole epoch in C (see there).
    `sklearn_adam_eps=True` adds Adam's eps as scikit-learn does, to √v rather than to
    √v/√(1 − β₂ᵗ) (torch's eps divided by √(1 − β₂ᵗ) at every step), for the estimators;
    `loss_weights=(a, b)` multiplies the reported loss by a and its gradient by b (scikit-learn's
    squared error is MSE's mean halved, its gradient that of half the sum over the outputs).
    See the module's docstring for the semantics of gradients, accumulation and schedules.

    >>> import numpy as np
    >>> from fastnn import nn, optim
    >>> model = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> step = model.compile_step(nn.CrossEntropyLoss(), opt)
    >>> x = np.ones((2, 4), np.float32); y = np.array([0, 2])
    >>> first = step(x, y)
    >>> later = [step(x, y) for _ in range(20)][-1]
    >>> later < first
    True
    """

    def __init__(self, model, loss_fn, optimizer=None, *, sklearn_adam_eps=False, loss_weights=(1.0, 1.0)):
        caller = "compile_step"
        self._sklearn_adam_eps = bool(sklearn_adam_eps)
        self._loss_weights = tuple(map(float, loss_weights))
        self._net = _Network(model, caller)
        plan_loss = getattr(loss_fn, "plan_loss", None)
        loss = plan_loss() if plan_loss is not None else None
        if loss is None:
            raise TypeError(f"{caller}: {type(loss_fn).__name__} declares no C loss (plan_loss); "
                            f"compiled steps take CrossEntropyLoss, MSELoss or BCEWithLogitsLoss")
        self._loss_kind, reduction = loss
        self._reduction_sum = reduction == "sum"
        loss_row = _core.LOSS_TABLE[_core.LOSSES[self._loss_kind]]
        self._class_targets = loss_row["kind"] == "class_rows"
        self._optimizer = optimizer
        self._rule = _rule_of(optimizer, caller) if optimizer is not None else None
        owned = {id(p) for g in optimizer.param_groups for p in g["params"]} if optimizer else set()
        self._optimized = [id(p) in owned for p in self._net.params]
        self._pending_momentum = []
        self._adam_states = []
        self._accumulating = False
        self._state_dict = None
        self._group_lrs = None

    # ------------------------------------------------------------ building

    def refresh(self):
        """Re-read every hyper-parameter and the optimizer's state at the next step."""
        self._net.plan = None

    def _build(self, capacity):
        net = self._net
        plan = net.build(capacity, training=True)
        net.plan.set_loss(self._loss_kind, self._reduction_sum, *self._loss_weights)
        self._slots = []  # (layer, of_bias, parameter, optimized)
        index = 0
        for i, op in enumerate(net.ops):
            if op["op"] != "linear":
                continue
            for of_bias, p in ((False, op["weight"]), (True, op["bias"])):
                if p is not None:
                    self._slots.append((i, of_bias, p, self._optimized[index]))
                    index += 1
        self._pending_momentum, self._adam_states = [], []
        opt = self._optimizer
        self._lr_slots = []
        if opt is not None:
            where = {id(p): (i, of_bias) for i, of_bias, p, _ in self._slots}
            for group in opt.param_groups:
                slots = [where[id(p)] for p in group["params"] if id(p) in where]
                self._lr_slots.append(slots)
                for p in group["params"]:
                    if id(p) in where:
                        self._bind_update(plan, where[id(p)], p, group)
            self._state_dict = opt.state
            self._group_lrs = [group["lr"] for group in opt.param_groups]
        for i, op in enumerate(net.ops):  # a rebuild between accumulation steps keeps adding
            plan.set_accumulate(i, self._accumulating, self._accumulating)
        return plan

    def _state_of(self, group):
        """Each parameter's optimizer state, made the optimizer's own way where missing (flat
        arrays for a flattened model), so plain and compiled steps share it."""
        opt = self._optimizer
        if any(p not in opt.state for p in group["params"]):
            for _ in opt._update_units(group["params"], *opt._state_layout(group)):
                pass
        return opt.state

    def _bind_update(self, plan, slot, p, group):
        i, of_bias = slot
        p_state = self._state_of(group)[p]
        lr = float(group["lr"])
        if self._rule == "sgd":
            buffer = p_state.get("momentum_buffer") if group["momentum"] != 0 else None
            first = buffer is not None and not p_state.get("momentum_started", True)
            if first:  # SGD's first step sets the buffer to g; marked started once it has run
                self._pending_momentum.append(p_state)
            plan.set_sgd(i, of_bias, p.data, buffer, lr, float(group["momentum"]),
                         float(group["dampening"]), bool(group["nesterov"]),
                         float(group["weight_decay"]), float(group["l1"]), first)
        else:
            beta1, beta2 = map(float, group["betas"])
            plan.set_adam(i, of_bias, p.data, p_state["exp_avg"], p_state["exp_avg_sq"],
                          p_state.get("max_exp_avg_sq") if group["amsgrad"] else None, lr, beta1,
                          beta2, float(group["eps"]), float(group["weight_decay"]),
                          self._rule == "adamw", int(p_state["step"]), self._sklearn_adam_eps)
            self._adam_states.append((i, of_bias, p_state))

    # ------------------------------------------------------------ running

    def _prepare(self, rows):
        """Rebuild when needed, then push changed learning rates: the per-step Python work."""
        net, opt = self._net, self._optimizer
        if net.plan is None or rows > net.capacity or net.stale() or (
                opt is not None and (opt.state is not self._state_dict or any(
                    p_state["momentum_started"] for p_state in self._pending_momentum))):
            self._build(rows)
        for i, of_bias, p_state in self._adam_states:  # optimizer.step() may have counted too
            net.plan.set_adam_step(i, of_bias, p_state["step"])
        if opt is not None:
            lrs = self._group_lrs
            for g, group in enumerate(opt.param_groups):
                lr = group["lr"]
                if lr != lrs[g]:
                    lrs[g] = lr
                    for i, of_bias in self._lr_slots[g]:
                        net.plan.set_lr(i, of_bias, float(lr))
        return net.plan

    def _after(self, update, steps=1):
        self._accumulating = not update
        if update and self._optimizer is not None:
            for p_state in self._pending_momentum:
                p_state["momentum_started"] = True
            self._pending_momentum = []
            for _, _, p_state in self._adam_states:
                p_state["step"] += steps
        for _, _, p, optimized in self._slots:
            # consumed by the fused update, or holding what was added
            p._grad_zeroed = update and optimized

    def _target(self, target, rows, caller):
        net = self._net
        if self._class_targets:
            target = np.asarray(target)
            if target.dtype.kind not in "iu" or target.shape != (rows,):
                raise ValueError(f"{caller}: cross-entropy targets must be ({rows},) integer class "
                                 f"indices, got {target.shape} {target.dtype}")
            return np.require(target, np.int64, ("C_CONTIGUOUS", "ALIGNED"))
        target = np.asarray(target)
        if target.shape != (rows, net.out_features) or target.dtype.kind not in "fiub":
            raise ValueError(f"{caller}: targets must be numbers of shape {(rows, net.out_features)}, "
                             f"got {target.shape} {target.dtype}")
        return np.require(target, net.dtype, ("C_CONTIGUOUS", "ALIGNED"))

    def __call__(self, x, target, *, update=True):
        net = self._net
        x = _check_rows(x, net.in_features, net.dtype, "compiled step")
        rows = x.shape[0]
        target = self._target(target, rows, "compiled step")
        with net.lock:
            plan = self._prepare(rows)
            loss = plan.train_step(x, target, update)
            self._after(update)
        return loss

    def fit_epoch(self, X, y, batch_size, rng_seed=0, *, shuffle=True):
        """One epoch in C: the samples shuffled (by a generator seeded with `rng_seed`; the order
        depends on the seed alone), gathered into batches of `batch_size` rows (the last may be
        smaller) and stepped with updates. Returns the mean loss per sample over the epoch (for
        reduction="sum", the summed loss over the epoch). The optimizer's learning rates are
        those of its groups when the epoch starts.

        >>> import numpy as np
        >>> from fastnn import nn, optim
        >>> model = nn.Sequential(nn.Linear(2, 16, rng=0), nn.Tanh(), nn.Linear(16, 2, rng=1))
        >>> step = model.compile_step(nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01))
        >>> X = np.random.default_rng(0).standard_normal((200, 2)).astype(np.float32)
        >>> y = (X[:, 0] > X[:, 1]).astype(np.int64)
        >>> losses = [step.fit_epoch(X, y, batch_size=32, rng_seed=e) for e in range(30)]
        >>> losses[-1] < 0.5 * losses[0]
        True
        """
        caller = "fit_epoch"
        if isinstance(rng_seed, bool) or not isinstance(rng_seed, (int, np.integer)) or rng_seed < 0:
            raise ValueError(f"{caller}: rng_seed must be a non-negative int, got {rng_seed!r}")
        loss_sum, _ = self._epoch(caller, X, y, batch_size, int(rng_seed) & (2**64 - 1),
                                  "shuffled" if shuffle else "in_order")
        return loss_sum if self._reduction_sum else loss_sum / X.shape[0]

    def _sklearn_epoch(self, X, y, batch_size, order, alpha):
        """scikit-learn's stochastic epoch in C, for the estimators: the samples in `order` (a
        permutation, or None for their own order), and with alpha > 0 its L2 penalty on every
        weight (weight decay alpha / rows a batch, alpha/2 |W|^2 / rows added to each batch's
        loss before its update; the rules' own weight decay is left as it was). Returns (the
        loss summed over the samples, penalties included; the steps taken)."""
        if order is not None:
            order = np.require(order, np.int64, ("C_CONTIGUOUS", "ALIGNED", "WRITEABLE"))
            if order.shape != (X.shape[0],):
                raise ValueError(f"epoch: order must hold one index per sample, got {order.shape}")
            bad = np.flatnonzero((order < 0) | (order >= X.shape[0]))
            if bad.size:
                raise ValueError(f"epoch: order[{bad[0]}] = {order[bad[0]]} is not a sample index")
        return self._epoch("epoch", X, y, batch_size, 0, "in_order" if order is None else "given",
                           order, float(alpha))

    def _epoch(self, caller, X, y, batch_size, seed, order_kind, order=None, l2=0.0):
        net = self._net
        X = _check_rows(X, net.in_features, net.dtype, caller, "X")
        n = X.shape[0]
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"{caller}: batch_size must be a positive int, got {batch_size!r}")
        batch = int(min(batch_size, n))
        target = self._target(y, n, caller)
        if self._class_targets:
            bad = np.flatnonzero((target < 0) | (target >= net.out_features))
            if bad.size:
                raise ValueError(f"{caller}: y[{bad[0]}] = {target[bad[0]]} is not a class index "
                                 f"in [0, {net.out_features})")
        if order is None:
            order = np.empty(n, np.int64)
        x_batch = np.empty((batch, net.in_features), net.dtype)
        target_batch = np.empty((batch,) if self._class_targets else (batch, net.out_features),
                                target.dtype)
        with net.lock:
            plan = self._prepare(batch)
            loss_sum, steps = plan.fit_epoch(X, target, batch, seed, order_kind, order, l2,
                                             x_batch, target_batch)
            self._after(True, steps)
        return loss_sum, steps


def _rule_of(optimizer, caller="compile_step"):
    """'sgd', 'adam' or 'adamw' for the optimizers whose step runs fused into backward; TypeError
    otherwise (a subclass that changes step() runs its own rule, which C cannot know)."""
    if not isinstance(optimizer, _optim.Optimizer):
        raise TypeError(f"{caller}: optimizer must be a fastnn.optim.Optimizer or None, got "
                        f"{type(optimizer).__name__}")
    step = type(optimizer).step
    if step is _optim.SGD.step and isinstance(optimizer, _optim.SGD):
        return "sgd"
    if step is _optim.Adam.step and isinstance(optimizer, _optim.Adam):
        return "adamw" if optimizer._decoupled_weight_decay else "adam"
    raise TypeError(f"{caller}: {type(optimizer).__name__} cannot be fused into backward; "
                    f"the fused update runs SGD, Adam and AdamW (or pass optimizer=None and call "
                    f"the optimizer's step() yourself)")


def compile_step(model, loss_fn, optimizer=None, **options):
    """A `CompiledStep` of `model` under `loss_fn`, with `optimizer` fused into its backward."""
    return CompiledStep(model, loss_fn, optimizer, **options)


def compile_forward(model):
    """A `CompiledForward` of `model`."""
    return CompiledForward(model)
