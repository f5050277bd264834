"""The MLP estimators' output functions with their losses, as scikit-learn defines them.

Each takes the output layer's values z (before the output function) and the targets, and
returns the per-sample losses and dLoss/dz (for a canonical link that is out(z) − y, whatever
the loss). They are keyed by scikit-learn's `out_activation_`:
- "softmax": cross-entropy against class indices (n,) or one-hot rows (n, k);
- "logistic": binary cross-entropy summed over the outputs (one for two classes, k for a
  multilabel indicator y);
- "identity": half the squared error, averaged over the outputs as scikit-learn reports it, its
  gradient that of the sum over them (the two agree for one output);
- "exp": Poisson: the half deviance y·log(y/ŷ) − y + ŷ summed over the outputs, ŷ = exp(z).
"""
import numpy as np

from .. import functional as F


def softmax_cross_entropy(logits, targets):
    """Per-sample −log softmax(z)[class] (fused log-sum-exp) and its gradient softmax(z) − onehot."""
    return F.cross_entropy(logits, targets, reduction="none", return_grad=True)


def logistic_cross_entropy(logits, targets):
    """Per-sample Σ_outputs log(1 + e^z) − y·z and its gradient σ(z) − y."""
    losses, grad = F.binary_cross_entropy_with_logits(logits, targets, reduction="none", return_grad=True)
    return losses.sum(axis=1) if losses.shape[1] > 1 else losses[:, 0], grad


def half_squared_error(outputs, targets):
    """Per-sample ½·mean over outputs of (ŷ − y)², and ŷ − y (see the module docstring)."""
    squares, grad = F.mse_loss(outputs, targets, reduction="none", return_grad=True)
    grad *= 0.5
    return 0.5 * squares.mean(axis=1), grad


def poisson_deviance(logits, targets):
    """Per-sample Σ_outputs y·log(y/ŷ) − y + ŷ with ŷ = exp(z) (0·log 0 = 0), and ŷ − y."""
    predicted = np.exp(logits)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log_y = np.where(targets > 0, targets * np.log(np.where(targets > 0, targets, 1)), 0)
    losses = y_log_y - targets * logits - targets + predicted
    return losses.sum(axis=1), predicted - targets


OUTPUT_LOSSES = {"softmax": softmax_cross_entropy, "logistic": logistic_cross_entropy,
                 "identity": half_squared_error, "exp": poisson_deviance}


def output_function(out_activation, logits):
    """What predict reports from the output layer's values: probabilities for the classifiers'
    outputs, the mean for the regressors' (float64 is not forced: the model's dtype is kept)."""
    if out_activation == "softmax":
        return F.softmax(logits)
    if out_activation == "logistic":
        return F.sigmoid(logits)
    if out_activation == "exp":
        return np.exp(logits)
    return logits
