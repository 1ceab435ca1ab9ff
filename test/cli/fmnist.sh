# fmnist.sh - nn-train on the real Fashion-MNIST (Debian's
# dataset-fashion-mnist) with data/arch/fmnist.nn and Adam on 2 threads.
#
#   make check         1 epoch on 20000 training samples: test accuracy
#                      >= 83% (it learns; 85.3% measured; about 15 s)
#   make check-fmnist  NN_FMNIST_FULL=1: the acceptance run, 3 epochs of
#                      the full train split: test accuracy >= 91%
. test/cli/lib.sh
if [ "${NN_SANITIZE:-}" = 1 ]; then skip "Fashion-MNIST training" "sanitized build: too slow; the same code runs in train.sh"; exit 0; fi
bin=${NN_BIN:-bin}
src=/usr/share/datasets/fashion-mnist
if [ ! -e "$src/train-images-idx3-ubyte.gz" ]; then
    skip "Fashion-MNIST training" "$src is missing (apt-get install dataset-fashion-mnist)"
    exit 0
fi
for p in nn-fetch-data nn-train; do
    if [ ! -x "$bin/$p" ]; then
        skip "Fashion-MNIST training" "$bin/$p is not built"
        exit 0
    fi
done
if ! "$bin/nn-fetch-data" -q fashion-mnist -o "$tmp/fm.h5" >"$tmp/log" 2>&1; then
    fail "nn-fetch-data fashion-mnist" "$(tail -n 3 "$tmp/log")"
    exit 1
fi

RECIPE="--optim adam --lr 0.001 -b 32 --schedule cosine -t 2 --seed 1"
if [ "${NN_FMNIST_FULL:-0}" = 1 ]; then
    name="3 epochs of Fashion-MNIST reach 91% test accuracy"
    args="-e 3"
    min=0.91
else
    name="1 epoch on 20000 Fashion-MNIST samples reaches 83% test accuracy"
    args="-e 1 --train-limit 20000"
    min=0.83
fi
if ! "$bin/nn-train" -a data/arch/fmnist.nn -d "$tmp/fm.h5" -o "$tmp/fm-model.h5" $RECIPE $args \
        --test --log "$tmp/fm.tsv" 2>"$tmp/err"; then
    fail "$name" "$(tail -n 3 "$tmp/err")"
    exit 1
fi
# epoch, test accuracy, images/s, seconds and data wait of every epoch
awk -F'\t' 'NR > 1 { printf "# epoch %d: test acc %.2f%%, %.0f images/s, %.1f s, data wait %.2f%%\n", $1, 100 * $8, $10, $11, 100 * $12 }' "$tmp/fm.tsv"
acc=$(tail -n 1 "$tmp/fm.tsv" | cut -f8)
check "$name (got $acc)" awk -v a="$acc" -v m="$min" 'BEGIN { exit !(a >= m) }'
exit $failed
