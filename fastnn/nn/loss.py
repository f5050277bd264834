"""Losses as modules: forward(prediction, target) -> float; backward() -> the gradient from the
same fused pass."""
import numpy as np

from .. import functional as F
from .module import Module, backward_before_forward

__all__ = ["MSELoss", "L1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
           "BCEWithLogitsLoss", "HingeLoss"]


class _Loss(Module):
    """forward(prediction, target) -> float; backward() -> d loss / d prediction, computed in the
    same fused pass as the loss. Each forward makes a new gradient array, handed to the caller."""

    def __init__(self, *, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._grad = None

    _plan_kind = None  # the loss's name in a compiled step (fastnn/nn/plan.py), if it has one

    def _loss_and_grad(self, prediction, target):
        raise NotImplementedError

    def plan_loss(self):
        """(kind, reduction) for a compiled step, or None when the loss has no C form there."""
        return None if self._plan_kind is None else (self._plan_kind, self.reduction)

    def forward(self, prediction, target):
        loss, self._grad = self._loss_and_grad(prediction, target)
        return loss

    def backward(self):
        if self._grad is None:
            raise backward_before_forward(self)
        return self._grad

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean (or sum) of (prediction − target)² over all elements.

    >>> import numpy as np
    >>> loss = MSELoss()
    >>> loss(np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    5.0
    >>> loss.backward()
    array([1., 3.])
    """

    _plan_kind = "mse"

    def _loss_and_grad(self, prediction, target):
        return F.mse_loss(prediction, target, self.reduction, return_grad=True)


class L1Loss(_Loss):
    """Mean (or sum) of |prediction − target| over all elements.

    >>> import numpy as np
    >>> L1Loss()(np.array([1.0, -3.0]), np.array([0.0, 0.0]))
    2.0
    """

    def _loss_and_grad(self, prediction, target):
        return F.l1_loss(prediction, target, self.reduction, return_grad=True)


class HuberLoss(_Loss):
    """0.5·d² where |d| < delta, else delta·(|d| − 0.5·delta), d = prediction − target.

    >>> import numpy as np
    >>> HuberLoss(delta=1.0)(np.array([0.5, 3.0]), np.array([0.0, 0.0]))
    1.3125
    """

    def __init__(self, *, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = float(delta)

    def _loss_and_grad(self, prediction, target):
        return F.huber_loss(prediction, target, self.reduction, self.delta, return_grad=True)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, delta={self.delta}"


class NLLLoss(_Loss):
    """−prediction[i, target_i] for log-probabilities (N, C) (a LogSoftmax output) and integer
    class indices (N,).

    >>> import numpy as np
    >>> round(NLLLoss()(np.log(np.array([[0.25, 0.75]])), np.array([1])), 4)
    0.2877
    """

    def _loss_and_grad(self, prediction, target):
        return F.nll_loss(prediction, target, self.reduction, return_grad=True)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] (a Sigmoid output) against targets in
    [0, 1], each log clamped at −100 as torch. BCEWithLogitsLoss on logits is the stable form.

    >>> import numpy as np
    >>> round(BCELoss()(np.array([0.5]), np.array([1.0])), 4)
    0.6931
    """

    def _loss_and_grad(self, prediction, target):
        return F.binary_cross_entropy(prediction, target, self.reduction, return_grad=True)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (N, C), the log-sum-exp fused and max-shifted; targets
    are class indices (N,) in [0, C) or class probabilities (N, C).

    >>> import numpy as np
    >>> loss = CrossEntropyLoss()
    >>> round(loss(np.zeros((2, 4)), np.array([1, 3])), 4)   # log 4
    1.3863
    >>> loss.backward().shape
    (2, 4)
    """

    _plan_kind = "cross_entropy"  # class-index targets only, in a compiled step

    def _loss_and_grad(self, prediction, target):
        return F.cross_entropy(prediction, target, self.reduction, return_grad=True)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(prediction) against targets in [0, 1], in the stable form
    max(x, 0) − x·t + log(1 + exp(−|x|)).

    >>> import numpy as np
    >>> round(BCEWithLogitsLoss()(np.array([0.0]), np.array([1.0])), 4)
    0.6931
    """

    _plan_kind = "bce_with_logits"

    def _loss_and_grad(self, prediction, target):
        return F.binary_cross_entropy_with_logits(prediction, target, self.reduction, return_grad=True)


class HingeLoss(_Loss):
    """The SVM hinge loss. Binary when prediction is (N,) or (N, 1): max(0, margin − y·f(x)) with
    y ∈ {−1, 1}. Multi-class when prediction is (N, C) and target class indices (N,):
    Σ_{j≠y} max(0, margin − f_y + f_j) / C per sample, as torch.nn.MultiMarginLoss.

    >>> import numpy as np
    >>> HingeLoss()(np.array([2.0, 0.5]), np.array([1, 1]))
    0.25
    """

    def __init__(self, margin=1.0, *, reduction="mean"):
        super().__init__(reduction=reduction)
        if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer, np.floating)) \
                or not np.isfinite(margin):
            raise ValueError(f"HingeLoss: margin must be a finite number, got {margin!r}")
        self.margin = float(margin)

    def _loss_and_grad(self, prediction, target):
        return F.hinge_loss(prediction, target, self.reduction, margin=self.margin, return_grad=True)

    def extra_repr(self):
        return f"margin={self.margin}, reduction={self.reduction!r}"
