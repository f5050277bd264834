# Sourced by check_wheel.sh and sanitize.sh: copy_sources REPO DEST copies the files git tracks
# (and untracked ones it does not ignore) from REPO into DEST, so that a build there can neither
# pick up nor clobber an in-place build lying in REPO. Expects the caller's fail().
copy_sources() {
    mkdir "$2"
    (cd "$1" && git ls-files -z --cached --others --exclude-standard) \
        | (cd "$1" && xargs -0 cp --parents -t "$2" 2>/dev/null || true)
    [ -f "$2/setup.py" ] || fail "could not copy the sources (is $1 a git checkout?)"
}
