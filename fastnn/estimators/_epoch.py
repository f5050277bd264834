"""The MLP estimators' objective and their training epoch, each one function, and the same epoch
on the network's compiled step (one C call a batch: forward, loss, backward with the update fused
in), which the estimators run wherever it gives the same weights to rounding: dense X without
sample weights, softmax, one logistic output or the squared error, SGD or Adam, no peers
(`compiled_loss` decides).
The shuffle stays numpy's (scikit-learn's order, from the estimator's random_state).

The objective is scikit-learn's: the (sample-weighted) mean of the per-sample losses plus
alpha/2 · ‖W‖² / Σ weights, its gradient left in the network's flat gradient buffer.

`peers` are the other processes of a data-parallel fit (fastnn.distributed sets them; None
otherwise): broadcast(params), total(*numbers) over every rank, batches(n, batch_size, order)
with the same count on every rank, sum_gradients(grads) in place, and this process's rank. With
them each step's loss, weight and rows are summed over the ranks before backward and the
gradients after it, the L2 term's gradient added by rank 0 alone.
"""
import numpy as np


def objective(network, output_loss, X, targets, sample_weight, alpha, peers=None):
    """Forward, loss and backward on one batch: returns (objective, rows), rows counted over
    every rank, the gradient left in network.grads. A batch whose weights sum to zero teaches
    nothing: the objective is then None and the gradient unset."""
    output = network.forward(X)
    losses, output_grad = output_loss(output, targets)
    rows = X.shape[0]
    if sample_weight is None:
        weight_sum, loss_sum = rows, float(np.sum(losses, dtype=np.float64))
    else:
        weight_sum = float(sample_weight.sum(dtype=np.float64))
        loss_sum = float(np.dot(losses.astype(np.float64), sample_weight))
        output_grad *= sample_weight[:, None]
    if peers is not None:
        weight_sum, loss_sum, rows = peers.total(weight_sum, loss_sum, rows)
    if weight_sum <= 0:
        return None, rows
    loss = loss_sum / weight_sum
    output_grad *= 1.0 / weight_sum
    l2_strength = alpha / weight_sum if peers is None or peers.rank == 0 else 0.0
    network.backward(output_grad, l2_strength=l2_strength)
    if peers is not None:
        peers.sum_gradients(network.grads)
    if alpha:
        loss += 0.5 * alpha * network.squared_norm() / weight_sum
    return loss, rows


def minibatches(n_samples, batch_size, order, peers=None):
    """An epoch's batches as slices or index arrays (`order` a permutation of the rows, or None
    for their own order); data-parallel, the peers' split, the same count on every rank."""
    if peers is not None:
        return peers.batches(n_samples, batch_size, order)
    if order is None:
        return (slice(start, start + batch_size) for start in range(0, n_samples, batch_size))
    return (order[start:start + batch_size] for start in range(0, n_samples, batch_size))


def train_epoch(network, optimizer, output_loss, X, targets, sample_weight, alpha, batch_size, order,
                peers=None):
    """One pass of minibatch steps over X, `batch_size` rows a step, each step one objective and
    one optimizer update. Returns (the epoch's loss: the batch losses weighted by their rows,
    over the rows; the rows, over every rank)."""
    accumulated, total_rows = 0.0, 0
    for batch in minibatches(X.shape[0], batch_size, order, peers):
        weights = None if sample_weight is None else sample_weight[batch]
        loss, rows = objective(network, output_loss, X[batch], targets[batch], weights, alpha, peers)
        total_rows += rows
        if loss is None:
            continue
        optimizer.step()
        accumulated += loss * rows
    return accumulated / max(total_rows, 1), total_rows


# the output functions whose scikit-learn loss and gradient a compiled step's loss gives exactly
# (per batch: the mean over its rows): softmax on class indices, logistic on one output, and the
# identity's half squared error (MSELoss with the weights of _loss_weights)
_COMPILED_LOSSES = {"softmax": "CrossEntropyLoss", "logistic": "BCEWithLogitsLoss", "identity": "MSELoss"}


def _loss_weights(loss, targets):
    """(loss, gradient) weights making the compiled loss scikit-learn's: its squared error reports
    half the mean over rows and outputs, and differentiates half the sum over the outputs (k of
    them) averaged over rows: MSE's mean times 1/2, its gradient times k/2."""
    from .. import nn
    if isinstance(loss, nn.MSELoss):
        return (0.5, 0.5 * targets.shape[1])
    return (1.0, 1.0)


def compiled_loss(out_activation, X, targets, sample_weight, peers):
    """The nn loss whose compiled step trains this fit exactly as train_epoch does, or None
    where only the Python loop can (sparse X, sample weights, a data-parallel fit, several
    logistic outputs, the Poisson loss)."""
    from .. import nn
    name = _COMPILED_LOSSES.get(out_activation)
    if (name is None or sample_weight is not None or peers is not None or type(X) is not np.ndarray
            or (out_activation == "softmax" and targets.ndim != 1)
            or (out_activation == "logistic" and (targets.ndim != 2 or targets.shape[1] != 1))
            or (out_activation == "identity" and targets.ndim != 2)):
        return None
    return getattr(nn, name)()


def compiled_epoch(network, optimizer, loss, X, targets, alpha, batch_size, order):
    """train_epoch's epoch as one C call on the network's compiled step (the batches gathered in
    `order`, each one step: forward, loss, backward with the update fused in). scikit-learn's L2
    gradient alpha·W / rows is the weights' weight decay, set in C for each batch size; the
    reported loss adds alpha/2 · ‖W‖² / rows before each update, as the objective does."""
    optimizer.set_weight_decay(0.0)  # the plain step adds the penalty itself; C sets it a batch
    step = optimizer.compiled_step(network, loss, _loss_weights(loss, targets))
    loss_sum, steps = step._sklearn_epoch(X, targets, batch_size, order, alpha)
    optimizer.compiled_steps_ran(steps)
    n_samples = X.shape[0]
    return loss_sum / max(n_samples, 1), n_samples
