# demo.sh - `make demo` at a reduced size: 1 epoch on 1000 Fashion-MNIST
# samples (make deps finds everything installed; the programs are built).
# Every file it lists must exist and open: pictures decode (PNG, GIF), HDF5
# files are read back by h5dump (where installed) and the model by nn-eval,
# tables have rows.
. test/cli/lib.sh
if [ "${NN_SANITIZE:-}" = 1 ]; then skip "make demo" "sanitized build: too slow; the same programs run in the other tests"; exit 0; fi
bin=${NN_BIN:-bin}
info="${NN_BUILD:-build}/test/test_vis"
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    skip "make demo" "Fashion-MNIST is missing (apt-get install dataset-fashion-mnist)"
    exit 0
fi
if [ ! -x "$info" ]; then fail "make demo" "$info is not built"; exit 1; fi

name="make demo EPOCHS=1 TRAIN_LIMIT=1000 succeeds and lists its files"
if make -s --no-print-directory demo BIN="$bin" OUT="$tmp/demo" EPOCHS=1 TRAIN_LIMIT=1000 \
        >"$tmp/out" 2>"$tmp/err" &&
   sed -n '/^demo: done/,$p' "$tmp/err" | tail -n +2 >"$tmp/files" && [ -s "$tmp/files" ]; then
    pass "$name"
else
    fail "$name" "$(tail -n 3 "$tmp/err")"
    exit 1
fi

name="the demo wrote every file the issue lists"
missing=
for f in fmnist.h5 model.h5 eval.tsv confusion.png plots/loss.png plots/accuracy.png \
         plots/filters.gif plots/filters.png spikes.png maps.png top-spikes.tsv acts.h5 \
         vis-conv1.png vis-conv2.png vis-spikes.png filters-conv1.png train.tsv; do
    grep -qx "$tmp/demo/$f" "$tmp/files" || missing="$missing $f"
done
if [ -z "$missing" ]; then pass "$name"; else fail "$name" "not listed:$missing"; fi

name="every listed picture decodes, every HDF5 file and table opens"
bad=
while read -r f; do
    case "$f" in
    *.png | *.gif) "$info" --info "$f" >/dev/null 2>&1 || bad="$bad $f" ;;
    *.h5)
        if command -v h5dump >/dev/null 2>&1; then
            h5dump -H "$f" >/dev/null 2>&1 || bad="$bad $f"
        fi ;;
    *.tsv) [ "$(wc -l <"$f")" -ge 2 ] || bad="$bad $f" ;;
    *) [ -s "$f" ] || bad="$bad $f" ;;
    esac
done <"$tmp/files"
if [ -z "$bad" ]; then pass "$name"; else fail "$name" "cannot open:$bad"; fi

name="the demo's model evaluates on its dataset, and better than chance"
if "$bin/nn-eval" -m "$tmp/demo/model.h5" -d "$tmp/demo/fmnist.h5" >"$tmp/eval.tsv" 2>"$tmp/err" &&
   awk -F '\t' '$1 == "accuracy" && $3 > 0.5 { ok = 1 } END { exit !ok }' "$tmp/eval.tsv"; then
    pass "$name"
else
    fail "$name" "$(cat "$tmp/eval.tsv" "$tmp/err" | head -n 5)"
fi
exit $failed
