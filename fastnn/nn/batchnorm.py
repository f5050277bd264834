"""BatchNorm1d and BatchNorm2d: torch's layers, arguments, running statistics and eval mode, with
the statistics, the affine pass and the backward in C."""
import numpy as np

from .. import functional_conv as FC
from .module import Module, backward_before_forward, check_grad_output, describe
from .parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]

_FLOAT_DTYPES = (np.float32, np.float64)


class _BatchNorm(Module):
    _input_ndims = ()  # the input ranks the layer accepts
    _buffer_names = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, *, dtype=np.float32):
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be > 0, got {eps!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        dtype = np.dtype(dtype)
        if dtype.type not in _FLOAT_DTYPES:
            raise TypeError(f"{name}: dtype must be float32 or float64, got {dtype}")
        self.num_features, self.eps = int(num_features), float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Parameter.allocate(self.num_features, dtype, fill=1) if affine else None
        self.bias = Parameter.allocate(self.num_features, dtype, fill=0) if affine else None
        if self.track_running_stats:
            self.running_mean = np.zeros(self.num_features, dtype)
            self.running_var = np.ones(self.num_features, dtype)
            # a count, kept in the layer's dtype so that saved files hold only float arrays
            self.num_batches_tracked = np.zeros((), dtype)
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self._dtype = dtype
        self._cache = None

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.fill(0)
            self.running_var.fill(1)
            self.num_batches_tracked.fill(0)

    def uses_batch_statistics(self):
        """Training mode normalises by the batch's statistics, as does a layer without running ones."""
        return self.training or not self.track_running_stats

    def folds_into_convolution(self, dims, channels, dtype):
        """Whether a convolution of `dims` spatial dimensions and `channels` outputs may fold this
        layer into its weights in eval mode."""
        return (dims + 2 in self._input_ndims and channels == self.num_features
                and dtype == self._dtype and self.track_running_stats)

    def folded_scale_shift(self):
        """(scale, shift) per channel in float64 such that eval mode computes x · scale + shift."""
        scale = 1 / np.sqrt(self.running_var.astype(np.float64) + self.eps)
        if self.affine:
            scale = scale * self.weight.data
        shift = -self.running_mean * scale
        if self.affine:
            shift = shift + self.bias.data
        return scale, shift

    def _checked_input(self, x):
        if type(x) is not np.ndarray:
            raise TypeError(f"{describe(self)}: input must be a numpy.ndarray, got {type(x).__name__}")
        if x.ndim not in self._input_ndims or x.shape[1] != self.num_features or x.dtype != self._dtype:
            c = self.num_features
            shapes = " or ".join({2: f"(N, {c})", 3: f"(N, {c}, L)", 4: f"(N, {c}, H, W)"}[d]
                                 for d in self._input_ndims)
            raise ValueError(f"{describe(self)}: expected input {shapes} of dtype {self._dtype}, got "
                             f"{x.shape} of dtype {x.dtype}")
        return x

    def forward(self, x):
        x = self._checked_input(x)
        batch_stats = self.uses_batch_statistics()
        momentum = self.momentum
        if batch_stats and self.track_running_stats:
            self.num_batches_tracked += 1
            if momentum is None:  # the cumulative moving average, as torch
                momentum = 1.0 / float(self.num_batches_tracked)
        y, mean, invstd = FC.batch_norm(
            x, self.running_mean if self.track_running_stats else None,
            self.running_var if self.track_running_stats else None,
            self.weight.data if self.affine else None, self.bias.data if self.affine else None,
            training=batch_stats, momentum=momentum if self.training else None, eps=self.eps,
            return_stats=True, caller=describe(self))
        self._cache = (x, y, mean, invstd, batch_stats)
        return y

    def backward(self, grad_output, need_input_grad=True):
        if self._cache is None:
            raise backward_before_forward(self)
        x, y, mean, invstd, batch_stats = self._cache
        check_grad_output(self, grad_output, y)
        weight_grad = bias_grad = None
        accumulate = False
        if self.affine:
            weight_grad, accumulate = self.weight.grad_for_backward()
            bias_grad, bias_accumulate = self.bias.grad_for_backward()
            if bias_accumulate != accumulate:
                (bias_grad if accumulate else weight_grad).fill(0)
                accumulate = True
        dx, _, _ = FC.batch_norm_backward(
            grad_output, x, mean, invstd, self.weight.data if self.affine else None, batch_stats,
            need_input_grad=need_input_grad, need_weight_grad=self.affine, caller=describe(self),
            weight_grad=weight_grad, bias_grad=bias_grad, accumulate=accumulate)
        return dx

    skips_input_grad = True

    def constructor_args(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats,
                "dtype": self._dtype.name}

    @staticmethod
    def parameter_shapes(args):
        shapes = {}
        if args["affine"]:
            shapes["weight"] = shapes["bias"] = (args["num_features"],)
        if args["track_running_stats"]:
            shapes["running_mean"] = shapes["running_var"] = (args["num_features"],)
            shapes["num_batches_tracked"] = ()
        return shapes

    def extra_repr(self):
        text = (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")
        if self._dtype != np.float32:
            text += f", dtype={self._dtype}"
        return text


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of x (N, C, H, W) per channel, as torch.nn.BatchNorm2d: in training the
    batch's mean and biased variance normalise, and the running statistics move by `momentum`
    (the variance's unbiased estimate, as torch); in eval mode the running statistics normalise.
    weight (γ) starts at 1 and bias (β) at 0. After a Conv2d in a Sequential, eval mode folds
    this layer into the convolution's weights.

    >>> import numpy as np
    >>> bn = BatchNorm2d(3)
    >>> y = bn(np.random.default_rng(0).normal(5, 2, (4, 3, 2, 2)).astype(np.float32))
    >>> bool(abs(y.mean()) < 1e-5), bn.running_mean.round(1).tolist() != [0, 0, 0]
    (True, True)
    """

    _input_ndims = (4,)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of x (N, C) or (N, C, L) per channel, as torch.nn.BatchNorm1d (see
    BatchNorm2d).

    >>> import numpy as np
    >>> BatchNorm1d(2)(np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)).round(3)
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    """

    _input_ndims = (2, 3)
