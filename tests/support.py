"""Shared test helpers."""
import contextlib
import os
from pathlib import Path

import pytest

import fastnn
from fastnn import _core


@contextlib.contextmanager
def isa_selected(name):
    """The kernel set `name` active inside the block (the test skipped where this CPU cannot run
    it), the previous one restored after."""
    if _core.isa_supported(name) != 1:
        pytest.skip(f"this CPU does not run {name}")
    previous = _core.isa_name()
    _core.select_isa(name)
    try:
        yield name
    finally:
        _core.select_isa(previous)


def fastnn_env(**overrides):
    """The environment for a child Python that must import the same fastnn as this process
    (an in-place build, an editable install or an installed wheel alike)."""
    env = dict(os.environ, **overrides)
    package_root = str(Path(fastnn.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env
