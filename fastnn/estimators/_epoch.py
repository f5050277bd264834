"""The MLP estimators' objective and their training epoch, each one function, so that a compiled
step (or a whole epoch in C) can take the place of either without touching the estimators.

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
