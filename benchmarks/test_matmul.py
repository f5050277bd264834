"""matmul at n = 64 ... 2048 and at the MLP's shapes, fastnn beside numpy (and torch)."""
import numpy as np
import pytest

from fastnn.bench.competitors import gemm_runner
from fastnn.bench.flops import gemm_flops
from fastnn.bench.gemm import GEMM_FORMS, gemm_operands

from bench_support import record_gflops, require

LIBRARIES = ["fastnn", "numpy", "torch"]
SIZES = [64, 128, 256, 512, 1024, 2048]


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("form", list(GEMM_FORMS))
@pytest.mark.parametrize("n", SIZES)
def test_square(benchmark, threads, n, form, library):
    require(library)
    a, b = gemm_operands(n, n, n, form, np.float32, np.random.default_rng(0))
    benchmark.group = f"matmul n={n} {form} {threads}T"
    benchmark(gemm_runner(library, a, b, *GEMM_FORMS[form]))
    record_gflops(benchmark, gemm_flops(n, n, n))


def mlp_products(batch, in_features, out_features):
    """The three products of a Linear layer, weights (out, in): (name, form, m, n, k)."""
    return [
        ("forward X.W^T", "A.B^T", batch, out_features, in_features),
        ("input grad dS.W", "A.B", batch, in_features, out_features),
        ("weight grad dS^T.X", "A^T.B", out_features, in_features, batch),
    ]


MLP_CASES = [(batch, i, o, *product)
             for batch in (16, 256)
             for i, o in ((784, 1024), (1024, 1024), (1024, 10))
             for product in mlp_products(batch, i, o)]


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("batch,in_features,out_features,product,form,m,n,k", MLP_CASES,
                         ids=[f"b{c[0]}-{c[1]}x{c[2]}-{c[3].split()[0]}" for c in MLP_CASES])
def test_mlp_shapes(benchmark, threads, batch, in_features, out_features, product, form, m, n, k,
                    library):
    require(library)
    a, b = gemm_operands(m, n, k, form, np.float32, np.random.default_rng(0))
    benchmark.group = f"matmul batch {batch} {in_features}->{out_features} {product} {threads}T"
    benchmark(gemm_runner(library, a, b, *GEMM_FORMS[form]))
    record_gflops(benchmark, gemm_flops(m, n, k))
