# gpu.sh - the programs on the GPU against the CPU (make check-gpu; in
# make check it skips where there is no GPU, or cuDNN or cuBLAS is
# missing): one epoch of Fashion-MNIST with the same seed (test batches
# probed, filter snapshots: the weights brought back from the GPU) reaches
# the same test accuracy within a point, nn-vis's filters reach the same
# mean activations within 5%, and nn-featmap's spikes, --hist statistics
# and top images (reduced on the GPU) are the CPU's within 1e-4.
. test/cli/lib.sh
bin=${NN_BIN:-bin}
why=$("${NN_BUILD:-build}/bench" --device cuda 2>&1 >/dev/null)
if [ -n "$why" ]; then
    if [ "${NN_REQUIRE_GPU:-0}" = 1 ]; then fail "the GPU" "$why"; exit 1; fi
    skip "the programs on the GPU" "$why"
    exit 0
fi
src=/usr/share/datasets/fashion-mnist
if [ ! -e "$src/train-images-idx3-ubyte.gz" ]; then
    skip "Fashion-MNIST on the GPU" "$src is missing (apt-get install dataset-fashion-mnist)"
    exit 0
fi
"$bin/nn-fetch-data" -q fashion-mnist -o "$tmp/fm.h5" || { fail "nn-fetch-data" "fashion-mnist"; exit 1; }
RECIPE="-a data/arch/fmnist.nn -d $tmp/fm.h5 --optim adam --lr 0.001 -b 64 -e 1 --train-limit 10000 --seed 1 --test -q"
for dev in cpu cuda; do
    if ! "$bin/nn-train" $RECIPE --device $dev -o "$tmp/$dev.h5" --log "$tmp/$dev.tsv" \
            --logdir "$tmp/tb-$dev" --log-every 40 --filters-every 40 2>"$tmp/err"; then
        if [ $dev = cuda ] && [ "${NN_REQUIRE_GPU:-0}" != 1 ] &&
            grep -q -e "not installed or not found" -e "installed cuDNN or cuBLAS has no" "$tmp/err"; then
            skip "the programs on the GPU" "$(tail -n 1 "$tmp/err")"
            exit 0
        fi
        fail "nn-train --device $dev" "$(tail -n 2 "$tmp/err")"
        exit 1
    fi
    [ -s "$tmp/$dev-filters.gif" ] || { fail "nn-train --device $dev" "no filter snapshots"; exit 1; }
done
# the log's columns by name: test_acc and images_per_s of epoch 1
col() { awk -F'\t' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i } NR == 2 { print $k }' "$1"; }
a_cpu=$(col "$tmp/cpu.tsv" test_acc) a_gpu=$(col "$tmp/cuda.tsv" test_acc)
echo "# test accuracy: CPU $a_cpu, GPU $a_gpu; images/s: CPU $(col "$tmp/cpu.tsv" images_per_s), GPU $(col "$tmp/cuda.tsv" images_per_s)"
check "one epoch of Fashion-MNIST: the GPU's test accuracy within a point of the CPU's" \
    awk -v a="$a_cpu" -v b="$a_gpu" 'BEGIN { d = a - b; exit !(a > 0.5 && (d < 0 ? -d : d) <= 0.01) }'
for dev in cpu cuda; do
    "$bin/nn-vis" -m "$tmp/cpu.h5" -l 6 -f 0,5 -o "$tmp/v-$dev.png" --size 28 --upscaling-steps 3 \
        --device $dev >"$tmp/v-$dev.tsv" 2>"$tmp/err" || { fail "nn-vis --device $dev" "$(cat "$tmp/err")"; exit 1; }
done
check "nn-vis: the GPU's final activations within 5% of the CPU's" \
    awk -F'\t' 'FNR == 1 { next } NR == FNR { f[$1] = $3; next }
                { d = $3 - f[$1]; if ((d < 0 ? -d : d) > 0.05 * (f[$1] < 0 ? -f[$1] : f[$1])) bad = 1 }
                END { exit bad }' "$tmp/v-cpu.tsv" "$tmp/v-cuda.tsv"
# nn-featmap's reductions on the GPU: the spikes of all 64 filters of
# conv2's relu, the --hist statistics, and the top images of the test split
for dev in cpu cuda; do
    { "$bin/nn-featmap" -m "$tmp/cpu.h5" -l 6 --input random:64 --top 64 --device $dev \
          >"$tmp/top-$dev.tsv" &&
      "$bin/nn-featmap" -m "$tmp/cpu.h5" -l 8 --input random:64 --hist "$tmp/h-$dev.png" \
          --device $dev >"$tmp/hist-$dev.tsv" &&
      "$bin/nn-featmap" -m "$tmp/cpu.h5" -l 6 -d "$tmp/fm.h5" --filter 3 --top-images 5 \
          --device $dev >"$tmp/ti-$dev.tsv"; } 2>"$tmp/err" ||
        { fail "nn-featmap --device $dev" "$(cat "$tmp/err")"; exit 1; }
done
# column c of each row of GPU file b within 1e-4 (relative) of the CPU file
# a's row of the same key (column k); both must have the same keys
near() {
    awk -F'\t' -v k="$3" -v c="$4" 'FNR == 1 { next } NR == FNR { v[$k] = $c; n++; next }
        { m++; d = $c - v[$k]; a = v[$k] < 0 ? -v[$k] : v[$k]
          if (!($k in v) || (d < 0 ? -d : d) > 1e-4 * a + 1e-6) bad = 1 }
        END { exit bad || n != m || n == 0 }' "$1" "$2"
}
check "nn-featmap --top: every filter's mean activation on the GPU within 1e-4 of the CPU's" \
    near "$tmp/top-cpu.tsv" "$tmp/top-cuda.tsv" 1 2
check "nn-featmap --hist: each layer's mean on the GPU within 1e-4 of the CPU's" \
    near "$tmp/hist-cpu.tsv" "$tmp/hist-cuda.tsv" 1 4
check "nn-featmap --hist: each layer's std on the GPU within 1e-4 of the CPU's" \
    near "$tmp/hist-cpu.tsv" "$tmp/hist-cuda.tsv" 1 5
check "nn-featmap --top-images: the 5 best scores of the test split on the GPU within 1e-4" \
    near "$tmp/ti-cpu.tsv" "$tmp/ti-cuda.tsv" 1 5
exit $failed
