"""One wheel for every x86-64: only the kernel files may hold AVX/AVX-512 code, and dispatch only
chooses kernels the CPU runs.

The extension is disassembled with objdump. An instruction counts as "beyond the baseline" when it
is VEX or EVEX encoded (the encodings of AVX, AVX2, FMA, AVX-512 and the BMI integer ops) or names
a ymm/zmm/mask register. Kernel functions are static, so they are recognised by the names their
files give them (sgemm_avx512_8x32, ...); when the build's object files are at hand, the
non-kernel objects are checked whole as well, names aside.
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import _core

# csrc/kernels/<isa>/ directories allowed beyond the baseline: every set in the registry but the
# portable one
VECTOR_ISAS = tuple(isa for isa in _core.isa_names() if isa != "generic")
KERNEL_NAME = re.compile(r"(^|_)(%s)(_|$)" % "|".join(VECTOR_ISAS))
# Legacy prefixes that may stand before a VEX/EVEX byte (segment overrides, address size).
SKIPPABLE_PREFIXES = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x67}
VEX_OR_EVEX = {0xC4, 0xC5, 0x62}  # LES/LDS/BOUND do not exist in 64-bit mode: these are VEX/EVEX
WIDE_REGISTER = re.compile(r"%(ymm|zmm)\d+|%k[0-7]\b")

needs_objdump = pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump not installed")
x86_64_only = pytest.mark.skipif(
    os.uname().machine not in ("x86_64", "AMD64"), reason="the ISA checks are about x86-64")


def extension_path():
    return Path(_core.__file__)


def beyond_baseline(encoding, text):
    """Why this instruction needs more than baseline x86-64, or None."""
    for byte in encoding:
        if byte not in SKIPPABLE_PREFIXES:
            if byte in VEX_OR_EVEX:
                return "VEX/EVEX encoded"
            break
    if WIDE_REGISTER.search(text):
        return "uses a ymm/zmm/mask register"
    return None


def functions_beyond_baseline(binary):
    """{function name: first offending instruction} for the code sections of `binary`."""
    listing = subprocess.run(
        ["objdump", "-d", "-w", "--insn-width=16", str(binary)],
        capture_output=True, text=True, check=True).stdout
    offending, function = {}, None
    for line in listing.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if header:
            function = header.group(1)
            continue
        parts = line.split("\t")
        if len(parts) < 3 or not re.match(r"^\s*[0-9a-f]+:$", parts[0]):
            continue
        try:
            encoding = bytes.fromhex(parts[1].replace(" ", ""))
        except ValueError:
            continue
        text = "\t".join(parts[2:]).strip()
        reason = beyond_baseline(encoding, text)
        if reason and function not in offending:
            offending[function] = f"{text}  ({reason})"
    return offending


def defined_functions(obj):
    """Names of the functions an object file defines (static ones included)."""
    symbols = subprocess.run(["nm", "--defined-only", str(obj)], capture_output=True, text=True,
                             check=True).stdout
    return {line.split()[-1] for line in symbols.splitlines() if line.split()[1:2] in (["t"], ["T"])}


def build_objects():
    """The object files of the build that produced the imported extension, or [] (an installed
    wheel carries none). Only trusted when the extension in build/lib* is the one imported."""
    package_dir = extension_path().parent
    build = package_dir.parent / "build"
    if not build.is_dir():
        return []
    built = [p for p in build.glob("lib*/fastnn/" + extension_path().name)]
    if not any(p.read_bytes() == extension_path().read_bytes() for p in built):
        return []
    return sorted(build.glob("temp*/**/*.o"))


def is_kernel_object(obj):
    parts = obj.parts
    return any(parts[i:i + 3] == ("csrc", "kernels", isa) for isa in VECTOR_ISAS
               for i in range(len(parts) - 2))


def base_name(symbol):
    """sgemm_avx2_6x16.constprop.0 -> sgemm_avx2_6x16: gcc's clones keep their origin's name."""
    return symbol.split(".")[0]


@needs_objdump
@x86_64_only
def test_vector_instructions_only_in_kernel_functions():
    offending = functions_beyond_baseline(extension_path())
    objects = build_objects()
    kernel_functions = set()
    for obj in objects:
        if is_kernel_object(obj):
            kernel_functions |= defined_functions(obj)
    if not offending:
        pytest.fail("no AVX code at all in the extension: the vector kernels are missing")
    if all(name.startswith(".") for name in offending):
        pytest.skip("the extension is stripped: functions cannot be told apart")
    misplaced = {name: insn for name, insn in offending.items()
                 if not (KERNEL_NAME.search(base_name(name)) or base_name(name) in kernel_functions)}
    assert not misplaced, (
        "AVX/AVX-512 instructions outside the kernel files (csrc/kernels/<isa>/), which must run "
        f"on any x86-64:\n" + "\n".join(f"  {n}: {i}" for n, i in sorted(misplaced.items())))
    # Each vector ISA's kernels are present and really use that ISA's registers.
    for isa in VECTOR_ISAS:
        assert any(KERNEL_NAME.search(base_name(name)) and isa in name for name in offending), (
            isa, sorted(offending))


@needs_objdump
@x86_64_only
def test_non_kernel_object_files_are_baseline():
    objects = build_objects()
    if not objects:
        pytest.skip("the build's object files are not beside this extension (an installed wheel)")
    framework = [obj for obj in objects if not is_kernel_object(obj)]
    assert any(obj.name.startswith("gemm") for obj in framework)
    found = {str(obj): functions_beyond_baseline(obj) for obj in framework}
    found = {obj: funcs for obj, funcs in found.items() if funcs}
    assert not found, f"framework objects compiled beyond the baseline: {found}"
    kernels = [obj for obj in objects if is_kernel_object(obj)]
    assert kernels
    if os.environ.get("FASTNN_SANITIZED"):
        # the sanitizer build (-O1, instrumented loads) leaves plain-loop kernels such as the
        # convolution's gather scalar, so only the optimised build must show each kernel's ISA
        kernels = [obj for obj in kernels if "conv_gather" not in obj.name]
    assert all(functions_beyond_baseline(obj) for obj in kernels)


def cpuinfo_flags():
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    match = re.search(r"^flags\s*:(.*)$", text, re.M)
    return set(match.group(1).split()) if match else None


@x86_64_only
def test_supported_sets_agree_with_the_kernel_report():
    """Linux lists a feature in /proc/cpuinfo only when the CPU has it and the OS enabled its
    register state: an independent witness of what dispatch may choose."""
    flags = cpuinfo_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo flags")
    expected = ["generic"]
    if {"avx", "avx2", "fma"} <= flags:
        expected.insert(0, "avx2")
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "fma"} <= flags:
        expected.insert(0, "avx512")
        if "avx512_bf16" in flags:
            expected.insert(0, "avx512_bf16")
    info = fastnn.cpu_info()
    assert info["isa_supported"] == expected
    if not os.environ.get("FASTNN_ISA"):
        assert info["isa"] == expected[0]  # the newest the CPU runs


def run_python(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "FASTNN_ISA"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=environment, timeout=120)


CHECK_MATMUL = """
    import numpy as np, fastnn
    rng = np.random.default_rng(0)
    for dtype, tol in ((np.float32, 1e-4), (np.float64, 1e-12)):
        a = rng.standard_normal((37, 300)).astype(dtype)
        b = rng.standard_normal((300, 53)).astype(dtype)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        err = np.abs(fastnn.matmul(a, b) - ref).max() / np.abs(ref).max()
        assert err < tol, (dtype, err)
    print(fastnn.cpu_info()["isa"])
"""


@pytest.mark.parametrize("isa", _core.isa_names())
def test_forcing_a_supported_isa_uses_it(isa):
    if _core.isa_supported(isa) != 1:
        pytest.skip(f"this CPU cannot run {isa}")
    result = run_python(CHECK_MATMUL, FASTNN_ISA=f" {isa.upper()} ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [isa]


def test_forcing_an_unknown_isa_is_a_clear_error():
    result = run_python("import fastnn", FASTNN_ISA="sse9")
    assert result.returncode != 0
    assert "ValueError" in result.stderr and "sse9" in result.stderr
    assert all(name in result.stderr for name in _core.isa_names())
    assert "Segmentation" not in result.stderr


def test_forcing_an_unsupported_isa_is_a_clear_error():
    unsupported = [isa for isa in VECTOR_ISAS if _core.isa_supported(isa) == 0]
    if not unsupported:
        pytest.skip("this CPU runs every ISA fastnn has kernels for")
    result = run_python("import fastnn", FASTNN_ISA=unsupported[0])
    assert result.returncode != 0
    assert "ValueError" in result.stderr and "cannot run" in result.stderr


def test_default_dispatch_picks_the_best_supported():
    result = run_python(CHECK_MATMUL)
    assert result.returncode == 0, result.stderr
    supported = [isa for isa in _core.isa_names() if _core.isa_supported(isa) == 1]
    assert result.stdout.split() == supported[:1]


def test_installed_copy_is_the_one_tested():
    """scripts/check_wheel.sh sets FASTNN_INSTALLED_PREFIX: the suite must then run the wheel."""
    prefix = os.environ.get("FASTNN_INSTALLED_PREFIX")
    if not prefix:
        pytest.skip("not running against an installed wheel")
    assert Path(fastnn.__file__).resolve().is_relative_to(Path(prefix).resolve())
    assert Path(_core.__file__).resolve().is_relative_to(Path(prefix).resolve())
