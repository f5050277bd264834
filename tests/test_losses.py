"""fastnn.functional's losses against the float64 oracle in reference.py, finite differences,
PyTorch (when installed), and bad input."""
import numpy as np
import pytest

import fastnn.functional as F
from fastnn import nn
import reference as ref

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none"]


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def tolerance(dtype):
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


def class_problem(n, c, dtype, rng, scale=3.0):
    logits = (rng.standard_normal((n, c)) * scale).astype(dtype)
    return logits, rng.integers(0, c, size=n)


def probability_target(n, c, dtype, rng):
    p = rng.random((n, c))
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


def sign_target(n, rng):
    return rng.choice([-1.0, 1.0], size=n)


def make_case(loss, n, c, dtype, rng):
    """(fastnn function, reference function, prediction, target, keyword arguments)."""
    if loss == "mse":
        x = (rng.standard_normal((n, c)) * 2).astype(dtype)
        return F.mse_loss, ref.mse_loss, x, rng.standard_normal((n, c)).astype(dtype), {}
    if loss == "bce":
        x = (rng.standard_normal((n, c)) * 4).astype(dtype)
        return (F.binary_cross_entropy_with_logits, ref.binary_cross_entropy_with_logits, x,
                rng.random((n, c)).astype(dtype), {})
    if loss == "ce_class":
        return (F.cross_entropy, ref.cross_entropy) + class_problem(n, c, dtype, rng) + ({},)
    if loss == "ce_probs":
        x, _ = class_problem(n, c, dtype, rng)
        return F.cross_entropy, ref.cross_entropy, x, probability_target(n, c, dtype, rng), {}
    if loss == "l1":
        x = (rng.standard_normal((n, c)) * 2).astype(dtype)
        return F.l1_loss, ref.l1_loss, x, rng.standard_normal((n, c)).astype(dtype), {}
    if loss == "huber":
        x = (rng.standard_normal((n, c)) * 2).astype(dtype)
        return F.huber_loss, ref.huber_loss, x, rng.standard_normal((n, c)).astype(dtype), {"delta": 0.7}
    if loss == "nll":
        logits, classes = class_problem(n, c, dtype, rng)
        return F.nll_loss, ref.nll_loss, F.log_softmax(logits), classes, {}
    if loss == "bce_probs":
        p = rng.uniform(0.02, 0.98, (n, c)).astype(dtype)
        return F.binary_cross_entropy, ref.binary_cross_entropy, p, rng.random((n, c)).astype(dtype), {}
    if loss == "hinge_binary":
        x = (rng.standard_normal(n) * 2).astype(dtype)
        return F.hinge_loss, ref.hinge_loss, x, sign_target(n, rng), {"margin": 1.0}
    if loss == "hinge_binary_column":
        x = (rng.standard_normal((n, 1)) * 2).astype(dtype)
        return F.hinge_loss, ref.hinge_loss, x, sign_target(n, rng), {"margin": 0.5}
    if loss == "hinge_multiclass":
        return (F.hinge_loss, ref.hinge_loss) + class_problem(n, max(c, 2), dtype, rng, 1.0) + ({"margin": 1.5},)
    raise KeyError(loss)


LOSSES = ["mse", "bce", "ce_class", "ce_probs", "hinge_binary", "hinge_binary_column", "hinge_multiclass",
          "l1", "huber", "nll", "bce_probs"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n,c", [(1, 1), (1, 5), (7, 3), (31, 13), (257, 10)])
@pytest.mark.parametrize("loss", LOSSES)
def test_loss_matches_reference(loss, n, c, reduction, dtype, rng):
    function, reference, x, target, kwargs = make_case(loss, n, c, dtype, rng)
    expected = reference(x, target, reduction, **kwargs)
    value = function(x, target, reduction, **kwargs)
    value_again, grad = function(x, target, reduction, return_grad=True, **kwargs)
    if reduction == "none":
        assert value.dtype == dtype
        np.testing.assert_allclose(value, expected, **tolerance(dtype))
        np.testing.assert_array_equal(value_again, value)
    else:
        assert isinstance(value, float) and value == value_again
        np.testing.assert_allclose(value, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
    assert grad.shape == x.shape and grad.dtype == dtype


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("loss", LOSSES)
def test_loss_gradient_matches_finite_differences(loss, reduction, rng):
    function, reference, x, target, kwargs = make_case(loss, 6, 4, np.float64, rng)
    if loss.startswith("hinge"):  # keep every margin term away from its kink
        x = x.copy()
        x += 0.1 * rng.standard_normal(x.shape)
    _, grad = function(x, target, reduction, return_grad=True, **kwargs)
    numerical = ref.numerical_gradient(lambda z: function(z, target, reduction, **kwargs), x.copy())
    np.testing.assert_allclose(grad, numerical, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_reductions_agree(loss, rng):
    function, _, x, target, kwargs = make_case(loss, 9, 4, np.float64, rng)
    per_sample = function(x, target, "none", **kwargs)
    total, grad_sum = function(x, target, "sum", return_grad=True, **kwargs)
    mean, grad_mean = function(x, target, "mean", return_grad=True, **kwargs)
    np.testing.assert_allclose(total, per_sample.sum(), rtol=1e-12)
    np.testing.assert_allclose(mean, per_sample.mean(), rtol=1e-12)
    np.testing.assert_allclose(grad_mean * per_sample.size, grad_sum, rtol=1e-12)


@pytest.mark.parametrize("layout", ["transposed", "strided"])
@pytest.mark.parametrize("loss", ["mse", "bce", "ce_class", "ce_probs", "hinge_multiclass"])
def test_loss_of_non_contiguous_inputs(loss, layout, rng):
    function, reference, x, target, kwargs = make_case(loss, 5, 6, np.float64, rng)
    view = np.asfortranarray(x) if layout == "transposed" else np.repeat(x, 2, axis=1)[:, ::2]
    assert not view.flags.c_contiguous
    np.testing.assert_allclose(function(view, target, "sum", **kwargs), reference(x, target, "sum", **kwargs),
                               rtol=1e-12)


def test_loss_of_an_empty_batch():
    assert F.cross_entropy(np.empty((0, 3)), np.empty(0, dtype=np.int64), "sum") == 0.0
    value, grad = F.mse_loss(np.empty((0, 2)), np.empty((0, 2)), "sum", return_grad=True)
    assert value == 0.0 and grad.shape == (0, 2)
    with pytest.raises(ValueError, match="cross_entropy: reduction='mean' over an empty batch"):
        F.cross_entropy(np.empty((0, 3)), np.empty(0, dtype=np.int64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_huge_logits_is_finite_and_exact(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    target = np.array([1, 2, 0])
    with np.errstate(all="raise"):
        losses = F.cross_entropy(logits, target, "none")
        _, grad = F.cross_entropy(logits, target, "sum", return_grad=True)
    np.testing.assert_allclose(losses, [2e4, np.log(2), np.log(3)], rtol=1e-6)
    np.testing.assert_allclose(grad, [[1, -1, 0], [0, 0.5, -0.5], [-2 / 3, 1 / 3, 1 / 3]], rtol=1e-6, atol=1e-7)
    probs = np.array([[0.5, 0.5, 0.0]] * 3, dtype=dtype)
    np.testing.assert_allclose(F.cross_entropy(logits, probs, "none"),
                               ref.cross_entropy(logits, probs, "none"), rtol=1e-6)


def test_bce_with_huge_logits_is_finite():
    logits = np.array([1e4, -1e4, 50.0, -50.0], dtype=np.float32)
    target = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    with np.errstate(all="raise"):
        losses = F.binary_cross_entropy_with_logits(logits, target, "none")
    np.testing.assert_allclose(losses, ref.binary_cross_entropy_with_logits(logits, target, "none"), rtol=1e-6)


def test_nan_propagates_through_losses():
    x = np.array([[0.0, np.nan], [1.0, 2.0]])
    assert np.isnan(F.cross_entropy(x, np.array([0, 1])))
    assert np.isnan(F.mse_loss(x, np.zeros_like(x)))
    assert np.isnan(F.hinge_loss(np.array([np.nan, 2.0]), np.array([1, 1])))
    value, grad = F.hinge_loss(x, np.array([0, 1]), return_grad=True)
    assert np.isnan(value) and np.isnan(grad[0]).any()


def test_integer_target_for_regression_losses_is_converted(rng):
    x = rng.standard_normal((3, 2))
    assert F.mse_loss(x, np.ones((3, 2), dtype=np.int64)) == pytest.approx(ref.mse_loss(x, np.ones((3, 2))))


# ---------------------------------------------------------------- PyTorch

@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_match_torch(reduction, rng):
    torch = pytest.importorskip("torch")
    nnf = torch.nn.functional
    logits, classes = class_problem(11, 5, np.float64, rng)
    probs = probability_target(11, 5, np.float64, rng)
    values = rng.random((11, 5))
    cases = [
        (F.mse_loss, logits, values, lambda t, y: nnf.mse_loss(t, y, reduction=reduction), {}),
        (F.binary_cross_entropy_with_logits, logits, values,
         lambda t, y: nnf.binary_cross_entropy_with_logits(t, y, reduction=reduction), {}),
        (F.cross_entropy, logits, classes, lambda t, y: nnf.cross_entropy(t, y, reduction=reduction), {}),
        (F.cross_entropy, logits, probs, lambda t, y: nnf.cross_entropy(t, y, reduction=reduction), {}),
        (F.hinge_loss, logits, classes,
         lambda t, y: nnf.multi_margin_loss(t, y, margin=0.7, reduction=reduction), {"margin": 0.7}),
        (F.l1_loss, logits, values, lambda t, y: nnf.l1_loss(t, y, reduction=reduction), {}),
        (F.huber_loss, logits, values,
         lambda t, y: nnf.huber_loss(t, y, reduction=reduction, delta=0.6), {"delta": 0.6}),
        (F.nll_loss, F.log_softmax(logits), classes,
         lambda t, y: nnf.nll_loss(t, y, reduction=reduction), {}),
        (F.binary_cross_entropy, np.vstack([values[:-1], [0.0, 1.0, 1e-30, 0.5, 1 - 1e-17]]),
         np.vstack([values[:-1], [1.0, 0.0, 1.0, 0.5, 0.0]]),
         lambda t, y: nnf.binary_cross_entropy(t, y, reduction=reduction), {}),
    ]
    for function, x, target, torch_loss, kwargs in cases:
        tx = torch.tensor(x, requires_grad=True)
        expected = torch_loss(tx, torch.tensor(target))
        expected.sum().backward()
        value, grad = function(x, target, reduction, return_grad=True, **kwargs)
        np.testing.assert_allclose(value, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- bad input

def test_float_class_labels_get_a_clear_message():
    """torch refuses float targets of shape (N,) for cross-entropy; so do we, saying why."""
    logits = np.zeros((3, 4), np.float32)
    with pytest.raises(TypeError, match=r"class labels must be integer class indices .*astype"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 3.0]))
    with pytest.raises(TypeError, match="class labels must be integer"):
        nn.CrossEntropyLoss()(logits, [0.0, 1.0, 3.0])
    assert nn.CrossEntropyLoss()(logits, [0, 1, 3]) == pytest.approx(np.log(4))  # lists work


def test_new_loss_modules_and_bad_parameters(rng):
    x = rng.random((4, 3))
    for module, function in ((nn.L1Loss(), F.l1_loss), (nn.HuberLoss(delta=0.3), None),
                             (nn.BCELoss(), F.binary_cross_entropy)):
        value = module(x, x[::-1].copy())
        assert value >= 0 and module.backward().shape == x.shape
        if function is not None:
            assert value == function(x, x[::-1].copy())
    assert nn.HuberLoss(delta=0.3)(x, 0 * x) == F.huber_loss(x, 0 * x, delta=0.3)
    logp = F.log_softmax(x)
    assert nn.NLLLoss()(logp, [0, 2, 1, 1]) == F.nll_loss(logp, np.array([0, 2, 1, 1]))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\], got 1.5"):
        F.binary_cross_entropy(np.array([0.5, 1.5]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="delta must be a positive"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match=r"nll_loss: target\[0\] = 3 is not a class index"):
        F.nll_loss(logp, np.array([3, 0, 0, 0]))


def test_losses_reject_bad_input(rng):
    logits, classes = class_problem(4, 3, np.float32, rng)
    with pytest.raises(ValueError, match=r"cross_entropy: target\[2\] = 3 is not a class index in \[0, 3\)"):
        F.cross_entropy(logits, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"target\[0\] = -1 is not a class index"):
        F.cross_entropy(logits, np.array([-1, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"hinge_loss: target\[1\] = 5 is not a class index in \[0, 3\)"):
        F.hinge_loss(logits, np.array([0, 5, 1, 1]))
    with pytest.raises(ValueError, match=r"class-index target must have shape \(4,\), got \(3,\)"):
        F.cross_entropy(logits, classes[:3])
    with pytest.raises(ValueError, match=r"target has shape \(4, 2\), but the prediction has shape \(4, 3\)"):
        F.cross_entropy(logits, np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="integer class indices or float probabilities, got bool"):
        F.cross_entropy(logits, np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match=r"logits must be 2-D, got 1-D"):
        F.cross_entropy(logits[0], classes[:1])
    with pytest.raises(ValueError, match="have no classes"):
        F.cross_entropy(np.empty((2, 0)), np.zeros(2, dtype=np.int64))
    with pytest.raises(TypeError, match="logits must be float32 or float64, got int64"):
        F.cross_entropy(np.zeros((2, 2), dtype=np.int64), np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"hinge_loss: target\[1\] = 0.0 is not -1 or 1"):
        F.hinge_loss(np.zeros(3), np.array([1, 0, -1]))
    with pytest.raises(ValueError, match=r"scores must be \(N,\), \(N, 1\) or \(N, C\)"):
        F.hinge_loss(np.zeros((2, 2, 2)), np.zeros(2, dtype=np.int64))
    with pytest.raises(ValueError, match=r"mse_loss: target has shape \(3,\)"):
        F.mse_loss(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(np.zeros(2), np.zeros(2), reduction="average")
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: logits must be float32"):
        F.binary_cross_entropy_with_logits(np.zeros(2, dtype=np.int32), np.zeros(2))
