"""The convolution sweep (tests/conv_sweep.py) on each instruction set, forced by FASTNN_ISA in a
fresh process."""
import subprocess
import sys
from pathlib import Path

import pytest

from fastnn import _core
from support import fastnn_env

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("isa", _core.float_kernel_sets())
def test_conv_sweep_on_each_isa_forced_by_environment(isa):
    if _core.isa_supported(isa) != 1:
        pytest.skip(f"this CPU cannot run {isa}")
    run = subprocess.run([sys.executable, str(HERE / "conv_sweep.py")],
                         env=fastnn_env(FASTNN_ISA=isa),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"isa={isa} failures=0" in run.stdout
