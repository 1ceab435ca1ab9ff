# valgrind.sh - a forward + backward + Adam step of fmnist is clean under
# valgrind's memcheck: no invalid access, no definite leak.
. test/cli/lib.sh
name="valgrind: fmnist forward+backward+step has no errors and no leaks"
if [ "${NN_SANITIZE:-}" = 1 ]; then skip "$name" "sanitized build"; exit 0; fi
if ! command -v valgrind >/dev/null; then skip "$name" "valgrind is not installed"; exit 0; fi
if OMP_NUM_THREADS=1 valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
     --error-exitcode=3 "$NN_BUILD/test/test_train" fmnist-step >"$tmp/out" 2>&1; then
    pass "$name"
else
    fail "$name" "$(tail -n 30 "$tmp/out")"
fi
exit $failed
