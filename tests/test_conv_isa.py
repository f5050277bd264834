"""The convolution sweep (tests/conv_sweep.py) on each instruction set, forced by FASTNN_ISA in a
fresh process."""
import subprocess
import sys
from pathlib import Path

import pytest

from fastnn import _core
from support import fastnn_env, isa_selected

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


@pytest.mark.parametrize("isa", _core.isa_names())
def test_conv_rows_tiles_are_the_gemm_register_tiles(isa):
    """The weight gradient by rows packs delta with the GEMM's packer for the rows tiles:
    rows_dw_applies checks the two agree, so a set whose tiles drifted from its GEMM's would
    silently lose that path rather than fail."""
    with isa_selected(isa):
        blocking, tiles = _core.kernel_blocking(), _core.conv_rows_tiles()
        for dtype in ("float32", "float64"):
            assert tiles[dtype] == (blocking[dtype]["mr"], blocking[dtype]["nr"]), (isa, dtype)
