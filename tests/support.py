"""Shared test helpers."""
import os
from pathlib import Path

import fastnn


def fastnn_env(**overrides):
    """The environment for a child Python that must import the same fastnn as this process
    (an in-place build, an editable install or an installed wheel alike)."""
    env = dict(os.environ, **overrides)
    package_root = str(Path(fastnn.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env
