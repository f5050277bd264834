"""The compiled step's phase timers (fastnn._core.step_phases, benchmarks/step_phases.py): each
phase of each layer counted where it runs, nothing counted when off, and the phases never adding
up to more than the thread's CPU time around the steps they time."""
import time

import numpy as np
import pytest

from fastnn import _core, nn, optim
from fastnn.bench.competitors import thread_count

SIZES = [24, 16, 16, 4]


def compiled_step(batch=8, activation_layers=False):
    rng = np.random.default_rng(0)
    layers = []
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        last = i == len(SIZES) - 2
        if activation_layers:
            layers += [nn.Linear(a, b, rng=i)] + ([] if last else [nn.ReLU()])
        else:
            layers.append(nn.Linear(a, b, activation=None if last else "relu", rng=i))
    model = nn.Sequential(*layers)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = model.compile_step(nn.CrossEntropyLoss(), opt)
    x = rng.standard_normal((batch, SIZES[0])).astype(np.float32)
    y = rng.integers(0, SIZES[-1], batch)
    return lambda: step(x, y)


@pytest.fixture
def one_thread():
    """The timers count the calling thread's CPU time only."""
    with thread_count(1):
        yield
    _core.step_phases(False)


def phase(name):
    return _core.STEP_PHASE_NAMES.index(name)


@pytest.mark.parametrize("batch", [1, 8, 64])
def test_every_phase_counted_where_it_runs(one_thread, batch):
    step = compiled_step(batch)
    step()
    _core.step_phases(True)
    start = time.thread_time()
    for _ in range(5):
        step()
    elapsed = time.thread_time() - start
    seconds = _core.step_phase_seconds()
    _core.step_phases(False)
    layers = len(SIZES) - 1
    assert (seconds[phase("forward"), :layers] > 0).all()
    assert (seconds[phase("weight_grad"), :layers] + seconds[phase("input_grad"), :layers] > 0).all()
    assert seconds[phase("input_grad"), 1:layers].min() > 0 or batch == 1
    assert seconds[phase("loss"), layers - 1] > 0 and seconds[phase("loss"), :layers - 1].sum() == 0
    assert (seconds[phase("delta"), :layers - 1] > 0).all()  # ReLU's derivative, bias gradient
    assert seconds[:, layers:].sum() == 0  # no other layers
    assert (seconds >= 0).all()
    # every phase is an interval of this thread's CPU time within the steps
    assert seconds.sum() <= elapsed


def test_separate_activation_layers_count_as_delta(one_thread):
    step = compiled_step(activation_layers=True)
    step()
    _core.step_phases(True)
    step()
    seconds = _core.step_phase_seconds()
    _core.step_phases(False)
    # Linear, ReLU, Linear, ReLU, Linear: or the activations fused into the Linears before them
    counted = np.nonzero(seconds[phase("forward")])[0]
    assert len(counted) in (3, 5)
    if len(counted) == 5:
        assert seconds[phase("delta"), 3] > 0  # the second ReLU's backward


def test_nothing_counted_when_off(one_thread):
    step = compiled_step()
    _core.step_phases(True)
    step()
    assert _core.step_phase_seconds().sum() > 0
    _core.step_phases(False)  # zeroes the timers too
    step()
    assert _core.step_phase_seconds().sum() == 0
