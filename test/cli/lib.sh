# lib.sh - helpers for the command-line tests (sourced).
# pass NAME / fail NAME WHY print the lines test/run.sh counts.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; failed=1; }
skip() { echo "SKIP $1: $2"; }
# check NAME CMD...: passes when CMD succeeds.
check() { n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "'$*' failed"; fi; }
