"""Parameters, their gradients and optimizer state start on a cache line (fastnn/_aligned.py),
so the batch-1 step's full-width loads and stores never straddle two lines."""
import numpy as np
import pytest

from fastnn import _aligned, nn, optim


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 3, 4)])
def test_arrays_start_on_a_cache_line(dtype, shape):
    for _ in range(20):  # numpy's own allocations land at varying offsets
        a = _aligned.empty(shape, dtype)
        z = _aligned.zeros(shape, dtype)
        assert a.ctypes.data % 64 == 0 and z.ctypes.data % 64 == 0
        assert a.shape == z.shape == shape and a.dtype == z.dtype == dtype
        assert a.flags.c_contiguous and a.flags.writeable
        assert not z.any()


@pytest.mark.parametrize("flatten", [False, True])
def test_model_parameters_and_sgd_state_are_aligned(flatten):
    model = nn.Sequential(nn.Linear(13, 32, rng=0), nn.ReLU(), nn.Linear(32, 3, rng=1))
    if flatten:
        model.flatten_parameters()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = np.ones((2, 13), np.float32)
    loss = nn.CrossEntropyLoss()
    loss(model(x), np.array([0, 2]))
    model.backward(loss.backward())
    opt.step()
    first = next(iter(model.parameters()))
    assert first.data.ctypes.data % 64 == 0 and first.grad.ctypes.data % 64 == 0
    assert opt.state[first]["momentum_buffer"].ctypes.data % 64 == 0
    if not flatten:
        for p in model.parameters():
            assert p.data.ctypes.data % 64 == 0 and p.grad.ctypes.data % 64 == 0
            assert opt.state[p]["momentum_buffer"].ctypes.data % 64 == 0
