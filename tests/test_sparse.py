"""The CSR x dense products (csrc/sparse.c) against a float64 numpy reference, and the sparse
first layer of the estimators' network against the dense Linear it stands in for."""
import numpy as np
import pytest

import fastnn
from fastnn import _core
from fastnn.estimators._sparse_input import InputLinear
from fastnn.nn import Linear

sparse = pytest.importorskip("scipy.sparse")


def random_csr(n_rows, n_cols, density, dtype, index_dtype, seed):
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n_rows, n_cols)) * (rng.random((n_rows, n_cols)) < density)
    if n_rows > 2:
        dense[1] = 0  # an empty row
    X = sparse.csr_matrix(dense.astype(dtype))
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    return X, dense


SHAPES = [(0, 5, 3), (1, 1, 1), (3, 7, 2), (37, 53, 17), (130, 211, 64), (64, 9, 1)]


@pytest.mark.parametrize("n_rows, n_cols, out_features", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_csr_products_match_numpy(n_rows, n_cols, out_features, dtype, index_dtype):
    X, dense = random_csr(n_rows, n_cols, 0.2, dtype, index_dtype, seed=n_rows + n_cols)
    rng = np.random.default_rng(1)
    wide = rng.standard_normal((out_features, n_cols + 3)).astype(dtype)
    weight = wide[:, :n_cols]  # rows with a stride longer than their length
    bias = rng.standard_normal(out_features).astype(dtype)
    tolerance = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    out = np.empty((n_rows, out_features), dtype)
    _core.csr_linear(X.data, X.indices, X.indptr, weight, bias, out)
    np.testing.assert_allclose(out, dense @ weight.astype(np.float64).T + bias, **tolerance)
    _core.csr_linear(X.data, X.indices, X.indptr, weight, None, out)
    np.testing.assert_allclose(out, dense @ weight.astype(np.float64).T, **tolerance)

    grad = rng.standard_normal((n_rows, out_features)).astype(dtype)
    grad[:, 0] = 0  # skipped rows of zeros must still be written when overwriting
    weight_grad = np.full((out_features, n_cols), 7.0, dtype)
    _core.csr_weight_grad(X.data, X.indices, X.indptr, grad, weight_grad, False)
    np.testing.assert_allclose(weight_grad, grad.astype(np.float64).T @ dense, **tolerance)
    _core.csr_weight_grad(X.data, X.indices, X.indptr, grad, weight_grad, True)
    np.testing.assert_allclose(weight_grad, 2 * grad.astype(np.float64).T @ dense, **tolerance)


def test_csr_products_do_not_depend_on_the_thread_count():
    X, _ = random_csr(500, 300, 0.3, np.float32, np.int32, seed=3)
    weight = np.random.default_rng(0).standard_normal((200, 300)).astype(np.float32)
    grad = np.random.default_rng(1).standard_normal((500, 200)).astype(np.float32)
    results = []
    saved = fastnn.get_num_threads()
    try:
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            out = _core.csr_linear(X.data, X.indices, X.indptr, weight, None, np.empty((500, 200), np.float32))
            dw = _core.csr_weight_grad(X.data, X.indices, X.indptr, grad, np.empty((200, 300), np.float32), False)
            results.append((out, dw))
    finally:
        fastnn.set_num_threads(saved)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_bad_csr_is_refused_before_c_reads_it():
    X, _ = random_csr(4, 6, 0.5, np.float64, np.int32, seed=0)
    weight, out = np.zeros((2, 6)), np.empty((4, 2))
    indices = X.indices.copy()
    indices[0] = 6
    with pytest.raises(ValueError, match="column indices"):
        _core.csr_linear(X.data, indices, X.indptr, weight, None, out)
    indices[0] = -1
    with pytest.raises(ValueError, match="column indices"):
        _core.csr_linear(X.data, indices, X.indptr, weight, None, out)
    indptr = X.indptr.copy()
    indptr[2] = indptr[-1] + 5
    with pytest.raises(ValueError, match="indptr"):
        _core.csr_linear(X.data, X.indices, indptr, weight, None, out)
    with pytest.raises(ValueError, match="indptr"):
        _core.csr_linear(X.data, X.indices, X.indptr[:-1], weight, None, out)
    with pytest.raises(TypeError, match="dtype"):
        _core.csr_linear(X.data.astype(np.float32), X.indices, X.indptr, weight, None, out)
    with pytest.raises(ValueError, match="out"):
        _core.csr_linear(X.data, X.indices, X.indptr, weight, None, np.empty((4, 3)))
    with pytest.raises(ValueError, match="weight_grad"):
        _core.csr_weight_grad(X.data, X.indices, X.indptr, np.zeros((4, 2)), np.zeros((2, 6), np.float32), True)


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid", "gelu"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_first_layer_equals_the_dense_linear(activation, dtype):
    X, dense = random_csr(29, 13, 0.3, dtype, np.int32, seed=5)
    sparse_layer = InputLinear(13, 7, activation=activation, dtype=dtype, rng=0)
    dense_layer = Linear(13, 7, activation=activation, dtype=dtype, rng=0)
    tolerance = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    y_sparse, y_dense = sparse_layer(X), dense_layer(dense.astype(dtype))
    np.testing.assert_allclose(y_sparse, y_dense, **tolerance)
    grad = np.random.default_rng(2).standard_normal(y_dense.shape).astype(dtype)
    assert sparse_layer.backward(grad, need_input_grad=False) is None
    dense_layer.backward(grad, need_input_grad=False)
    np.testing.assert_allclose(sparse_layer.weight.grad, dense_layer.weight.grad, **tolerance)
    np.testing.assert_allclose(sparse_layer.bias.grad, dense_layer.bias.grad, **tolerance)
    with pytest.raises(ValueError, match="need_input_grad=False"):
        sparse_layer(X)
        sparse_layer.backward(grad)
    with pytest.raises(ValueError, match="CSR input"):
        sparse_layer(sparse.csr_matrix(np.ones((2, 12), dtype)))


@pytest.mark.parametrize("sparse_input", [False, True])
def test_first_layer_takes_the_optimizer_in_backward(sparse_input):
    """The estimators' first layer, fused with its activation in a Sequential, takes
    backward(optimizer=) as Linear does: on dense rows the update runs in its backward, on CSR rows
    its weight is stepped by the plain rule after; both equal backward() then step()."""
    from fastnn import nn, optim
    X, dense = random_csr(17, 13, 0.3, np.float64, np.int32, seed=3)
    x = X if sparse_input else dense
    grad = np.random.default_rng(4).standard_normal((17, 5))
    models = []
    for fused in (False, True):
        model = nn.Sequential(InputLinear(13, 8, dtype=np.float64, rng=0), nn.ReLU(),
                              nn.Linear(8, 5, dtype=np.float64, rng=1))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            model(x)
            if fused:
                model.backward(grad, need_input_grad=False, optimizer=opt)
            else:
                model.backward(grad, need_input_grad=False)
                opt.step()
        models.append(model)
    for plain, fused in zip(models[0].parameters(), models[1].parameters()):
        np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12, atol=1e-12)
