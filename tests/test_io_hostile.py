"""fastnn.load on hostile files: compression bombs, absurd shapes, duplicate members, unknown
methods, constructor arguments the constructors refuse. Each is refused with a ValueError that
names the member or argument, having allocated at most twice the file's size (plus the fixed
cost of opening any file, measured on a valid one)."""
import re
import subprocess
import sys
import tracemalloc

import pytest

import fastnn
from fastnn import nn
from hostile_files import BAD_CONSTRUCTOR_ARGS, hostile_files, module_file
from support import fastnn_env

HOSTILE = hostile_files()


def peak_while_loading(path):
    """(peak bytes Python and numpy allocated while loading `path`, the exception raised)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    error = None
    try:
        fastnn.load(path)
    except Exception as exc:  # noqa: BLE001 - returned, asserted by the caller
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


@pytest.fixture(scope="module")
def fixed_cost(tmp_path_factory):
    """What loading a valid two-parameter file costs: opening the zip, parsing the JSON, building
    the module. A hostile file may cost this plus twice its size."""
    path = tmp_path_factory.mktemp("valid") / "linear.npz"
    fastnn.save(path, nn.Linear(2, 3, rng=0))
    fastnn.load(path)  # imports and caches warmed up
    peak, error = peak_while_loading(path)
    assert error is None
    return peak


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_refused_in_bounded_memory(tmp_path, name, fixed_cost):
    data, match = HOSTILE[name]
    path = tmp_path / f"{name}.npz"
    path.write_bytes(data)
    peak, error = peak_while_loading(path)
    assert type(error) is ValueError, f"{name}: {type(error).__name__}: {error}"
    assert str(path) in str(error)
    assert re.search(match, str(error)), str(error)
    assert peak <= 2 * len(data) + 2 * fixed_cost, (name, len(data), peak, fixed_cost)


@pytest.mark.parametrize("name", sorted(BAD_CONSTRUCTOR_ARGS))
def test_constructor_arguments_are_checked_at_load(tmp_path, name):
    description, match = BAD_CONSTRUCTOR_ARGS[name]
    path = tmp_path / f"{name}.npz"
    path.write_bytes(module_file(description))
    with pytest.raises(ValueError, match=match):
        fastnn.load(path)


def test_the_bombs_do_not_grow_the_resident_set(tmp_path):
    """In a fresh process, so that the resident set measures only this load: a loader that
    inflated the 64 MiB of weights would grow it by 64 MiB or more."""
    paths = []
    for name in ("bzip2_bomb", "deflate_bomb"):
        paths.append(tmp_path / f"{name}.npz")
        paths[-1].write_bytes(HOSTILE[name][0])
    valid = tmp_path / "valid.npz"
    fastnn.save(valid, nn.Linear(2, 3, rng=0))
    child = f"""
import resource, fastnn
def peak_kib(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
fastnn.load({str(valid)!r})
before = peak_kib()
for path in {[str(p) for p in paths]!r}:
    try:
        fastnn.load(path)
    except ValueError:
        pass
print(peak_kib() - before)
"""
    grown_kib = int(subprocess.run([sys.executable, "-c", child], env=fastnn_env(), capture_output=True,
                                   text=True, check=True, timeout=120).stdout)
    largest = max(p.stat().st_size for p in paths)
    assert grown_kib * 1024 <= 2 * largest + 4 * 2**20, (grown_kib, largest)


def test_a_larger_valid_file_still_loads(tmp_path):
    """The checks refuse nothing fastnn writes."""
    model = nn.Sequential(nn.Linear(64, 256, rng=0), nn.ReLU(), nn.Linear(256, 10, rng=1),
                          nn.Softmax(dim=-1))
    path = tmp_path / "mlp.npz"
    fastnn.save(path, model)
    copy = fastnn.load(path)
    for name, value in model.state_dict().items():
        assert (copy.state_dict()[name] == value).all()
