# install.sh - make install puts programs, man pages, header, library and a
# pkg-config file under PREFIX, and a program builds against them.
. test/cli/lib.sh
if [ "${NN_SANITIZE:-}" = 1 ]; then skip "make install" "sanitized build: packaging is tested by the plain build"; exit 0; fi
prefix=$tmp/prefix
if make -s install PREFIX="$prefix" >"$tmp/log" 2>&1; then
    pass "make install PREFIX=..."
else
    fail "make install PREFIX=..." "$(tail -n 5 "$tmp/log")"
fi
for f in include/nn.h lib/libnn.a lib/pkgconfig/nn.pc share/nn/datasets.tsv bin/nn-train share/man/man5/nn-arch.5 share/man/man7/nn.7 share/nn/arch/fmnist.nn; do
    check "installed $f" test -f "$prefix/$f"
done
cat >"$tmp/use.c" <<'C'
#include <nn.h>
int main(void)
{
    nn_error e;
    nn_model *m = nn_model_from_arch("input 4\ndense 2\n", "t", 0, &e);
    int ok = m && m->nlayers == 1;
    nn_model_free(m);
    return !ok;
}
C
if PKG_CONFIG_PATH="$prefix/lib/pkgconfig" sh -c "cc -o '$tmp/use' '$tmp/use.c' \$(pkg-config --cflags --libs nn)" >"$tmp/log" 2>&1 \
   && "$tmp/use"; then
    pass "a program builds with pkg-config nn and runs"
else
    fail "a program builds with pkg-config nn and runs" "$(tail -n 5 "$tmp/log")"
fi
# No program links cuDNN or cuBLAS (the CUDA backend opens them when it
# first uses the GPU): they map some 200 MiB into every process that does.
heavy=
for p in "$NN_BIN"/nn-*; do
    ldd "$p" 2>/dev/null | grep -q 'libcudnn\|libcublas' && heavy="$heavy ${p##*/}"
done
if [ -z "$heavy" ]; then pass "the programs do not load cuDNN or cuBLAS"; else fail "the programs do not load cuDNN or cuBLAS" "linked by:$heavy"; fi
exit $failed
