"""Fixtures shared by the test modules."""
import pytest

from fastnn import _core

from support import isa_selected


def _selecting_each_of(kernel_sets, name, doc):
    """A fixture selecting each of kernel_sets that this machine runs in turn (support.py:
    isa_selected), the previous set restored after."""
    @pytest.fixture(params=kernel_sets, name=name)
    def selected(request):
        with isa_selected(request.param):
            yield request.param
    selected.__doc__ = doc
    return selected


isa = _selecting_each_of(
    _core.float_kernel_sets(), "isa",
    "Each set of float kernels once: a set built on another (avx512_bf16 on avx512) is left out.")
every_isa = _selecting_each_of(
    _core.isa_names(), "every_isa",
    "Every kernel set the registry names, those built on another included (avx512_bf16 adds "
    "its own bf16 and peak-probe kernels).")
