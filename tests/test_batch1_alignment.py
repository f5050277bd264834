"""The batch-1 one-pass step reads the first layer's input from a copy on a cache line when the
caller's array is not on one (csrc/plan.h: input_line): the copy changes where the values are read
from, never the values, so the step's result is identical, on every kernel set and dtype."""
import numpy as np
import pytest

from fastnn import _aligned, _core, nn
from test_plan import RULES, batch, mlp


def off_line(x):
    """x's values in an array that starts one element past a cache line."""
    raw = np.empty(x.size + 64, x.dtype)
    skip = (-raw.ctypes.data % 64) // x.itemsize + 1
    moved = raw[skip:skip + x.size].reshape(x.shape)
    moved[...] = x
    assert moved.ctypes.data % 64 and moved.flags.c_contiguous
    return moved


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# short and long rows, neither a whole number of lines
@pytest.mark.parametrize("features", [37, 4099])
@pytest.mark.parametrize("rule", ["sgd_momentum", "sgd_nesterov_decay_l1"])
def test_input_off_a_cache_line_gives_the_same_step(isa, dtype, features, rule):
    sizes = (features, 40, 30, 5)
    models = [mlp(dtype, sizes=sizes) for _ in range(2)]
    steps = [m.compile_step(nn.CrossEntropyLoss(), RULES[rule](m.parameters())) for m in models]
    for seed in range(3):
        x, y = batch(dtype, 1, features=features, classes=sizes[-1], seed=seed)
        on_line = _aligned.empty(x.shape, dtype)
        on_line[...] = x
        steps[0](on_line, y)
        steps[1](off_line(x), y)
    for (name, a), (_, b) in zip(models[0].named_parameters(), models[1].named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_plan_refuses_an_input_line_off_a_cache_line_or_too_short():
    plan = _core.Plan(False, 1)
    plan.set_layer(0, "activation", 37, 37, 0, output=_aligned.empty((1, 37), np.float32))
    rows = [_aligned.empty((1, 37), np.float32) for _ in range(2)]
    for bad in (off_line(np.zeros(37, np.float32)), _aligned.empty((36,), np.float32),
                _aligned.empty((37,), np.float64)):
        with pytest.raises(ValueError, match="input_line must hold one input row on a cache line"):
            plan.set_buffers(1, *rows, input_line=bad)
    plan.set_buffers(1, *rows, input_line=_aligned.empty((37,), np.float32))
