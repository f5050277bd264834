"""The MLP estimators' objective and their training epoch, each one function, so that a compiled
step (or a whole epoch in C) can take the place of either without touching the estimators.

The objective is scikit-learn's: the (sample-weighted) mean of the per-sample losses plus
alpha/2 · ‖W‖² / Σ weights, its gradient left in the network's flat gradient buffer.
"""
import numpy as np


def objective(network, output_loss, X, targets, sample_weight, alpha):
    """Forward, loss and backward on one batch; returns the objective (a float) and leaves its
    gradient in network.grads. A batch whose weights sum to zero teaches nothing: returns None
    and leaves the gradient unset."""
    output = network.forward(X)
    losses, output_grad = output_loss(output, targets)
    if sample_weight is None:
        weight_sum = X.shape[0]
        loss = float(np.mean(losses, dtype=np.float64))
    else:
        weight_sum = float(sample_weight.sum(dtype=np.float64))
        if weight_sum <= 0:
            return None
        loss = float(np.dot(losses.astype(np.float64), sample_weight) / weight_sum)
        output_grad *= sample_weight[:, None]
    output_grad *= 1.0 / weight_sum
    network.backward(output_grad, l2_strength=alpha / weight_sum)
    if alpha:
        loss += 0.5 * alpha * network.squared_norm() / weight_sum
    return loss


def train_epoch(network, optimizer, output_loss, X, targets, sample_weight, alpha, batch_size, order):
    """One pass of minibatch steps over X in `order` (a permutation of the rows, or None for
    their own order), `batch_size` rows a step, each step one objective and one optimizer
    update. Returns the epoch's loss: the batch losses weighted by their row counts, over the
    rows."""
    n_samples = X.shape[0]
    accumulated = 0.0
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        batch = slice(start, stop) if order is None else order[start:stop]
        weights = None if sample_weight is None else sample_weight[batch]
        loss = objective(network, output_loss, X[batch], targets[batch], weights, alpha)
        if loss is None:
            continue
        optimizer.step()
        accumulated += loss * (stop - start)
    return accumulated / n_samples
