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
# find_h5py: h5py= the python3 that has h5py and numpy (Debian's belongs to
# /usr/bin/python3), or empty.
find_h5py() {
    h5py=
    for p in /usr/bin/python3 python3; do
        if "$p" -c 'import h5py, numpy' 2>/dev/null; then h5py=$p; return 0; fi
    done
}
# For scripts whose run NAME CMD... leaves $tmp/out/NAME.out, .err and .rc:
# its status, whether its stderr has a pattern, and a failure's reason;
# requests PATH: how often the local server (its log in $tmp/log) was asked.
rc() { cat "$tmp/out/$1.rc"; }
err_has() { grep -q -- "$2" "$tmp/out/$1.err"; }
why() { echo "status $(rc "$1"): $(tail -n 3 "$tmp/out/$1.err")"; }
requests() { grep -c "^GET $1 " "$tmp/log" 2>/dev/null || true; }
# start_server ROOT LOG: serves the files in ROOT with test/cli/fetch_server.py
# (requests appended to LOG; it stops on exit, or after 300 s), and sets url
# to http://127.0.0.1:PORT. Prints a FAIL line and fails when it does not start.
start_server() {
    python3 test/cli/fetch_server.py "$1" "$2" 300 >"$tmp/port" &
    server=$!
    trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
    i=0
    while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    port=$(cat "$tmp/port")
    [ -n "$port" ] || { fail "server" "fetch_server.py did not start"; return 1; }
    url=http://127.0.0.1:$port
}
