#!/bin/sh
# run.sh - runs every test program and command-line test, counts the
# PASS/FAIL/SKIP lines they print and ends with "N passed, M failed".
# A program that exits non-zero without printing a FAIL line (a crash)
# counts as one failure. NN_CLI=0 leaves out the command-line tests;
# NN_TEST_WRAP runs each test program under a command (compute-sanitizer).
cd "$(dirname "$0")/.." || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0 skip=0
cli=test/cli/*.sh
[ "${NN_CLI:-1}" = 0 ] && cli=
for t in "$@" $cli; do
    [ -e "$t" ] || continue
    case "$t" in */lib.sh) continue ;; esac
    case "$t" in *.sh) cmd="sh $t" ;; *) cmd="${NN_TEST_WRAP:+$NN_TEST_WRAP }$t" ;; esac
    start=$(date +%s)
    $cmd >"$log" 2>&1
    rc=$?
    grep -E '^(PASS|FAIL|SKIP) ' "$log"
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log"); s=$(grep -c '^SKIP ' "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
        echo "FAIL $t: exited with status $rc"; tail -n 20 "$log"; f=1
    elif [ "$f" != 0 ]; then
        grep -v -E '^(PASS|SKIP) ' "$log" | tail -n 40
    fi
    echo "# $t: $p passed, $f failed, $s skipped ($(( $(date +%s) - start )) s)"
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
