"""The row-block path of the fused update (5 to 64 samples, weights under 1 MiB: csrc/fused_optim.h)
over several blocks of 32 weight rows and a partial one: each block's dW goes to the thread's
scratch, or adds to `.grad` after accumulation steps; either way the weights equal the plain loop's,
for every rule, dtype and instruction set."""
import numpy as np
import pytest

from fastnn import nn

from test_plan import RULES, assert_same_parameters, batch, mlp, plain_step

SIZES = (40, 70, 33, 3)  # 70 and 33 weight rows: blocks of 32, 32, 6 and 32, 1


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("rule", ("sgd_momentum", "adam"))
@pytest.mark.parametrize("rows", (9, 64))
def test_row_blocks_equal_the_plain_step(isa, rule, dtype, rows):
    plain, compiled = mlp(dtype, sizes=SIZES), mlp(dtype, sizes=SIZES)
    plain_opt = RULES[rule](plain.parameters())
    step = compiled.compile_step(nn.CrossEntropyLoss(), RULES[rule](compiled.parameters()))
    for seed in range(3):
        x, y = batch(dtype, rows, features=SIZES[0], seed=seed)
        plain_step(plain, nn.CrossEntropyLoss(), plain_opt, x, y)
        step(x, y)
    assert_same_parameters(plain, compiled, dtype)
    assert all(not p.grad.any() for p in compiled.parameters())  # consumed by the update


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_row_blocks_add_to_accumulated_gradients(isa, dtype):
    plain, compiled = mlp(dtype, sizes=SIZES), mlp(dtype, sizes=SIZES)
    plain_opt = RULES["sgd_momentum"](plain.parameters())
    step = compiled.compile_step(nn.CrossEntropyLoss(reduction="sum"),
                                 RULES["sgd_momentum"](compiled.parameters()))
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    for round_ in range(2):
        micro = [batch(dtype, 20, features=SIZES[0], seed=10 * round_ + i) for i in range(3)]
        plain_opt.zero_grad()
        for x, y in micro:
            loss_fn(plain(x), y)
            plain.backward(loss_fn.backward())
        plain_opt.step()
        for x, y in micro[:-1]:
            step(x, y, update=False)
        step(*micro[-1])
    assert_same_parameters(plain, compiled, dtype)
