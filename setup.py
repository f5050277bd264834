"""Build of fastnn's one extension module, fastnn._core.

Every C source is compiled for the baseline of the architecture (no -march flags): the kernel
files under csrc/kernels/<isa>/ raise their own instruction set with `#pragma GCC target`, and
dispatch chooses among them at run time, so one wheel runs on every x86-64.

OpenMP is used when the compiler has it (libgomp with gcc) and left out otherwise; the GEMM then
runs on one thread (FASTNN_OPENMP=0 asks for that build). FASTNN_SANITIZE=1 builds with
AddressSanitizer and UBSan.
"""
import os
import sys
import tempfile
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SANITIZE = os.environ.get("FASTNN_SANITIZE", "") not in ("", "0")
OPENMP_FLAGS = ["-fopenmp"]


def compiler_has_openmp(compiler):
    """True if `compiler` compiles and links a program calling the OpenMP runtime."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "probe.c")
        with open(source, "w") as f:
            f.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n")
        try:
            objects = compiler.compile([source], output_dir=tmp, extra_postargs=OPENMP_FLAGS)
            compiler.link_executable(objects, "probe", output_dir=tmp, extra_postargs=OPENMP_FLAGS)
        except Exception:
            return False
    return True


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        openmp = os.environ.get("FASTNN_OPENMP", "1") != "0" and compiler_has_openmp(self.compiler)
        if not openmp:
            print("fastnn: the compiler has no OpenMP; building the serial GEMM", file=sys.stderr)
        for ext in self.extensions:
            if openmp:
                ext.extra_compile_args += OPENMP_FLAGS
                ext.extra_link_args += OPENMP_FLAGS
        super().build_extensions()


compile_args = ["-O3", "-std=gnu11", "-fno-math-errno", "-Wall", "-Wno-unused-function",
                "-Wno-unknown-pragmas"]
link_args = []
if SANITIZE:
    compile_args = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                    "-fno-sanitize-recover=undefined"] + compile_args[1:]
    link_args += ["-fsanitize=address,undefined"]

core = Extension(
    "fastnn._core",
    sources=["fastnn/_core.pyx"] + sorted(glob("csrc/*.c")) + sorted(glob("csrc/kernels/*/*.c")),
    include_dirs=["csrc", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    depends=sorted(glob("csrc/*.h")) + sorted(glob("csrc/kernels/*.h")) + sorted(glob("fastnn/*.pxi")) + sorted(glob("fastnn/*.pxd")),
)

setup(
    ext_modules=cythonize(
        [core],
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
    cmdclass={"build_ext": BuildExt},
)
