"""Matrix products on fastnn's GEMM.

`matmul` is defined and validated in the Cython shell (fastnn/_gemm.pxi): for a small product,
Python-level checks would cost more than the product itself.
"""
from ._core import matmul

__all__ = ["matmul"]
