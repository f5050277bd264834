#!/usr/bin/env bash
# Builds fastnn with AddressSanitizer and UBSan (FASTNN_SANITIZE=1) in a temporary copy of the
# tracked sources and runs the test suite on that build, with the ASan runtime preloaded into
# Python (which is not itself instrumented). Any memory error or undefined behaviour aborts the
# run: the exit status is non-zero.
#
#   scripts/sanitize.sh [pytest arguments]     (default: the whole tests/ directory)
#
# The in-place build of this tree is left alone.
set -euo pipefail
PYTHON=${PYTHON:-python3}
CC=${CC:-gcc}
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/copy_sources.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/fastnn-sanitize.XXXXXX")
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH PYTHONHOME
say() { printf '\n== sanitize: %s\n' "$*"; }
fail() { printf '\nsanitize: FAILED: %s\n' "$*" >&2; exit 1; }

asan_runtime=$("$CC" -print-file-name=libasan.so)
[ -e "$asan_runtime" ] || fail "$CC has no libasan.so ($asan_runtime)"

say "copying the tracked sources to $work/src"
copy_sources "$repo" "$work/src"
cd "$work/src"

"$PYTHON" -c 'import Cython, setuptools' 2>/dev/null \
    || fail "the sanitizer build runs setup.py directly: pip install \"Cython>=3\" \"setuptools>=77\" first"

say "building with -fsanitize=address,undefined"
FASTNN_SANITIZE=1 CC="$CC" "$PYTHON" setup.py build_ext --inplace >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; fail "the sanitizer build failed"; }
extension=$(ls fastnn/_core*.so)
readelf -d "$extension" | grep -q 'libasan' || fail "$extension is not linked with ASan"

# leaks: CPython keeps interned objects and arenas to the end, which LeakSanitizer would report.
# allocator_may_return_null: an impossible allocation (tests of MemoryError) returns NULL as
# glibc's would instead of aborting.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export FASTNN_SANITIZED=1
run() { LD_PRELOAD="$asan_runtime" "$PYTHON" "$@"; }

say "canary: an overflow through the preloaded runtime must be caught"
if run -c 'import ctypes; b = ctypes.create_string_buffer(8); m = ctypes.CDLL(None).malloc; m.restype = ctypes.c_void_p; ctypes.memmove(b, m(4), 8)' \
        >"$work/canary.log" 2>&1; then
    fail "ASan did not catch a heap overflow: the runtime is not active"
fi
grep -q 'heap-buffer-overflow' "$work/canary.log" || { cat "$work/canary.log"; fail "unexpected canary failure"; }

location=$(run -c 'import fastnn; print(fastnn.__file__)') || fail "import fastnn under ASan failed"
[ "$location" = "$work/src/fastnn/__init__.py" ] || fail "fastnn imported from $location"

say "pytest on the sanitized build"
[ $# -gt 0 ] || set -- tests
run -m pytest -q -p no:cacheprovider "$@" || fail "tests failed (or the sanitizers aborted) on the sanitized build"
say "OK: clean under ASan and UBSan"
