#!/usr/bin/env bash
# Builds fastnn's wheel, repairs it into a manylinux wheel with libgomp bundled, installs it into a
# fresh venv and runs the test suite against the installed package, never the source tree.
#
#   scripts/check_wheel.sh [wheel-dir]     (repaired wheel kept in wheel-dir, default dist/)
#
# The wheel is built from a clean copy of the tracked files, so an in-place build (or a sanitizer
# build) lying in this tree can neither leak into the wheel nor be clobbered by it.
set -euo pipefail
PYTHON=${PYTHON:-python3}
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/copy_sources.sh"
out_dir=$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/fastnn-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
unset PYTHONPATH PYTHONHOME FASTNN_ISA
say() { printf '\n== check_wheel: %s\n' "$*"; }
fail() { printf '\ncheck_wheel: FAILED: %s\n' "$*" >&2; exit 1; }

say "copying the tracked sources to $work/src"
copy_sources "$repo" "$work/src"

say "pip wheel"
"$PYTHON" -m pip wheel --no-deps -w "$work/raw" "$work/src" >"$work/pip-wheel.log" 2>&1 \
    || { tail -40 "$work/pip-wheel.log"; fail "pip wheel did not build"; }
raw=$(ls "$work"/raw/fastnn-*.whl) || fail "pip wheel produced no fastnn wheel"

say "auditwheel repair $(basename "$raw")"
"$PYTHON" -m auditwheel repair -w "$work/repaired" "$raw" >"$work/auditwheel.log" 2>&1 \
    || { cat "$work/auditwheel.log"; fail "auditwheel repair failed"; }
wheel=$(ls "$work"/repaired/fastnn-*manylinux*.whl) || fail "auditwheel made no manylinux wheel"
"$PYTHON" - "$raw" "$wheel" <<'PY' || fail "the repaired wheel does not bundle the libraries it needs"
import sys, zipfile
raw, repaired = sys.argv[1:]
def files(path):
    with zipfile.ZipFile(path) as z:
        return z.namelist(), {n: z.read(n) for n in z.namelist() if "/_core." in n and n.endswith(".so")}
_, raw_core = files(raw)
names, _ = files(repaired)
uses_openmp = any(b"libgomp.so" in blob for blob in raw_core.values())
bundled = [n for n in names if n.startswith("fastnn.libs/")]
print("bundled:", bundled or "nothing")
if uses_openmp and not any("libgomp" in n for n in bundled):
    sys.exit("the extension links libgomp but the repaired wheel does not carry it")
PY
cp "$wheel" "$out_dir/"

say "fresh venv"
"$PYTHON" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
"$venv_python" -m pip install -q --disable-pip-version-check "$wheel" pytest hypothesis \
    || fail "installing the wheel into the venv failed"

# The tests run from a copy outside the repository; examples/ comes along for tests that run it.
mkdir "$work/run"
cp -r "$repo/tests" "$work/run/tests"
[ -d "$repo/examples" ] && cp -r "$repo/examples" "$work/run/examples"
cd "$work/run"
location=$("$venv_python" -c 'import fastnn; print(fastnn.__file__)') || fail "import fastnn failed"
case "$location" in
    "$work/venv/"*) echo "fastnn imported from $location" ;;
    *) fail "fastnn was imported from $location, not from the venv" ;;
esac

say "pytest against the installed wheel"
FASTNN_INSTALLED_PREFIX="$work/venv" "$venv_python" -m pytest -q -ra -p no:cacheprovider tests \
    || fail "the test suite failed against the installed wheel"
say "OK: $(basename "$wheel") (kept in $out_dir)"
