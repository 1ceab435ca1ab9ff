# train.sh - nn-train on tiny synthetic datasets: exact resume, SIGINT and
# SIGTERM checkpoints, NaN handling, dataset mismatch errors, the memory
# check, outputs checked before any work, the TSV log, charts, the filter
# GIF, TensorBoard files and the random search.
. test/cli/lib.sh
bin=${NN_BIN:-bin}
helper=${NN_BUILD:-build}/test/test_data
train=$bin/nn-train
if [ ! -x "$train" ] || [ ! -x "$helper" ]; then
    skip "nn-train" "$train or $helper is not built"
    exit 0
fi
T="-t 2 -q"

# 4 classes of 12x12 gray images, 480 train and 160 test samples
if ! "$helper" make-dataset "$tmp/d.h5" 1 12 12 4 480 160 >"$tmp/log" 2>&1; then
    fail "make a synthetic dataset" "$(cat "$tmp/log")"
    exit 1
fi
"$helper" make-dataset "$tmp/rgb.h5" 3 12 12 4 64 16 >/dev/null 2>&1
cat >"$tmp/net.nn" <<'EOF'
input 1x12x12
conv 4 3x3 pad=same name=conv1
batchnorm
relu
maxpool 2 name=pool1
dropout 0.2
flatten
dense classes name=fc
softmax
EOF

# --- usage -------------------------------------------------------------------
"$train" --help >"$tmp/help" 2>&1
check "--help exits 0 and fits a screen" test "$(wc -l <"$tmp/help")" -le 40 -a -s "$tmp/help"
"$train" --version | grep -q '^nn-train [0-9]' && pass "--version" || fail "--version" "no version line"
"$train" --bogus >/dev/null 2>"$tmp/err"
check "an unknown option exits 2 with one line naming it" sh -c \
    "test $? = 2 && test \$(wc -l <'$tmp/err') = 1 && grep -q \"unknown option '--bogus'\" '$tmp/err'"
if [ -w /dev/full ]; then
    "$train" --help >/dev/full 2>"$tmp/err"
    check "a failed write to standard output exits 1 with a message" sh -c \
        "test $? = 1 && grep -q 'nn-train: standard output' '$tmp/err'"
    "$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/full.h5" -e 1 --log - >/dev/full 2>"$tmp/err"
    check "a failed --log - exits 1 with one line about standard output" sh -c \
        "test $? = 1 && test \$(wc -l <'$tmp/err') = 1 && grep -q 'nn-train: standard output' '$tmp/err'"
fi
for o in foo adam:foo=1; do
    "$train" -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/x.h5" --optim $o >/dev/null 2>"$tmp/err"
    check "--optim $o is a usage error (exit 2)" sh -c "test $? = 2 && grep -q -- '--optim' '$tmp/err'"
done
"$train" -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/x.h5" --momentum 0.5 >/dev/null 2>"$tmp/err"
check "--momentum with adam (which ignores it) is a usage error (exit 2)" sh -c \
    "test $? = 2 && grep -q -- '--momentum goes with --optim momentum, nesterov or rmsprop, not adam' '$tmp/err'"
"$train" -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/x.h5" --schedule foo >/dev/null 2>&1
check "--schedule foo is a usage error (exit 2)" test $? = 2
"$train" -a "$tmp/net.nn" -d "$tmp/d.h5" >/dev/null 2>&1
check "a missing -o exits 2" test $? = 2
"$train" -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/x.h5" --lr abc >/dev/null 2>&1
check "a bad --lr exits 2" test $? = 2
# an output over an input or another output is a usage error, and the file stays
cp "$tmp/d.h5" "$tmp/same.h5"
same() {
    n=$1 pat=$2; shift 2
    "$train" $T "$@" >/dev/null 2>"$tmp/err"; rc=$?
    if [ $rc = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && grep -q -- "$pat" "$tmp/err" &&
       cmp -s "$tmp/d.h5" "$tmp/same.h5"; then
        pass "$n"
    else
        fail "$n" "status $rc: $(cat "$tmp/err")"
    fi
}
same "-o naming the -d dataset is a usage error; the dataset stays" \
    "-o .*same.h5 would overwrite the -d file" -a "$tmp/net.nn" -d "$tmp/same.h5" -o "$tmp/same.h5"
same "--log naming the dataset (another spelling of it) is a usage error" \
    "--log .*would overwrite the -d file" -a "$tmp/net.nn" -d "$tmp/same.h5" -o "$tmp/x.h5" \
    --log "$tmp/./same.h5"
same "-o and --log naming one new file is a usage error" "-o and --log both write" \
    -a "$tmp/net.nn" -d "$tmp/same.h5" -o "$tmp/new.h5" --log "$tmp/new.h5"
same "-o - is a usage error (the model is written every epoch)" "-o -: the model is written" \
    -a "$tmp/net.nn" -d "$tmp/same.h5" -o -
same "--search -o - is a usage error (its chart goes beside the results)" "-o -: --search" \
    --search 2 --val 0.2 -a "$tmp/net.nn" -d "$tmp/same.h5" -o -
{ "$train" $T -a "$tmp/net.nn" -d "$tmp/same.h5" -o /dev/stdout 2>"$tmp/err"; echo $? >"$tmp/rc"; } | cat >/dev/null
check "-o /dev/stdout into a pipe is -o - (a usage error)" sh -c \
    "test \$(cat '$tmp/rc') = 2 && grep -q -- '-o /dev/stdout: the model is written' '$tmp/err'"
check "no file was made by those refusals" test ! -e "$tmp/new.h5" -a ! -e "$tmp/x.h5"
printf 'input 1x12x12\nbogus\n' >"$tmp/bad.nn"
mkdir -p "$tmp/keep"
"$train" $T -a "$tmp/bad.nn" -d "$tmp/d.h5" -o "$tmp/x.h5" --plot "$tmp/nd1/sub" \
    --logdir "$tmp/nd2/x" >/dev/null 2>"$tmp/err"
"$train" $T -a "$tmp/bad.nn" -d "$tmp/d.h5" -o "$tmp/x.h5" --plot "$tmp/keep/sub" >/dev/null 2>>"$tmp/err"
"$train" $T -a "$tmp/bad.nn" -d "$tmp/d.h5" -o "$tmp/x.h5" --plot "$tmp/nd3//sub/" >/dev/null 2>>"$tmp/err"
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/x.h5" --plot "$tmp/nd4/sub" \
    --logdir "$tmp/net.nn/tb" >/dev/null 2>>"$tmp/err"
check "a run that fails before training removes the --plot and --logdir directories it made" \
    sh -c "grep -q \"unknown layer 'bogus'\" '$tmp/err' && grep -q 'net.nn/tb: cannot create' '$tmp/err' &&
           test ! -e '$tmp/nd1' -a ! -e '$tmp/nd2' -a ! -e '$tmp/nd3' -a ! -e '$tmp/nd4' \
           -a -d '$tmp/keep' -a ! -e '$tmp/keep/sub'"
same "-a - and -d - is a usage error (one input from stdin)" "-a - and -d - both read standard input" \
    -a - -d - -o "$tmp/x.h5"
"$train" $T -a - -d "$tmp/d.h5" -o "$tmp/stdin.h5" -e 1 <"$tmp/net.nn" 2>"$tmp/err"
check "-a - reads the architecture from standard input" sh -c "test $? = 0 && test -s '$tmp/stdin.h5'"
missing=
for opt in $(sed -n 's/^  *\(-., \)\{0,1\}\(--[a-z-]*\).*/\2/p' "$tmp/help"); do
    grep -qF -- "$(echo "$opt" | sed 's/-/\\-/g')" man/man1/nn-train.1 || missing="$missing $opt"
done
check "every long option of --help is in the man page (missing:$missing)" test -z "$missing"

# --- training, the TSV log ---------------------------------------------------
if "$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/a.h5" -e 4 --val 0.2 --augment \
       --test --seed 3 --log "$tmp/a.tsv" 2>"$tmp/err"; then
    pass "nn-train trains 4 epochs"
else
    fail "nn-train trains 4 epochs" "$(cat "$tmp/err")"
fi
check "the TSV log has the header and one row per epoch" sh -c \
    "head -n 1 '$tmp/a.tsv' | grep -qx 'epoch.step.train_loss.train_acc.val_loss.val_acc.test_loss.test_acc.lr.images_per_s.seconds.data_wait' &&
     test \$(wc -l <'$tmp/a.tsv') = 5 && cut -f1 '$tmp/a.tsv' | tail -n 1 | grep -qx 4"
# the synthetic classes are easy: the network learns them
acc=$(tail -n 1 "$tmp/a.tsv" | cut -f6)
check "validation accuracy after 4 epochs is above 0.9 ($acc)" awk -v a="$acc" 'BEGIN { exit !(a > 0.9) }'

# --- exact resume --------------------------------------------------------------
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/b.h5" -e 2 --val 0.2 --augment --test --seed 3 &&
    "$train" $T --resume "$tmp/b.h5" -d "$tmp/d.h5" -e 4 --log "$tmp/b.tsv" 2>"$tmp/err"
if "$helper" same-weights "$tmp/a.h5" "$tmp/b.h5" 2>"$tmp/err"; then
    pass "2 epochs + --resume 2 more: the same weights and optimizer state as 4 straight"
else
    fail "2 epochs + --resume 2 more: the same weights and optimizer state as 4 straight" "$(cat "$tmp/err")"
fi
check "a resumed run's TSV log has the earlier epochs too" test "$(wc -l <"$tmp/b.tsv")" = 5
cp "$tmp/b.h5" "$tmp/b-copy.h5"
"$train" $T --resume "$tmp/b.h5" -d "$tmp/d.h5" -o "$tmp/b2.h5" --log "$tmp/b.h5" 2>"$tmp/err"
check "--log naming the --resume checkpoint is a usage error; the checkpoint stays" sh -c \
    "test $? = 2 && grep -q -- '--log .*would overwrite the --resume file' '$tmp/err' &&
     cmp -s '$tmp/b.h5' '$tmp/b-copy.h5'"
"$train" $T --resume "$tmp/b.h5" -d "$tmp/d.h5" -e 5 -o "$tmp/./b.h5" 2>"$tmp/err"
check "-o may name the --resume checkpoint (as when -o is left out)" sh -c \
    "test $? = 0 && ! cmp -s '$tmp/b.h5' '$tmp/b-copy.h5'"
"$train" $T --resume "$tmp/a.h5" -d "$tmp/d.h5" -e 4 2>"$tmp/err"
rc=$?
check "resuming a finished run is an error that says to raise --epochs" sh -c \
    "test $rc = 1 && grep -q -- '--epochs' '$tmp/err'"

# --- SIGINT / SIGTERM in the middle of an epoch ----------------------------------
# 40 epochs of 60 batches: stopped after the first checkpoint, resumed, and
# compared with a run that was never stopped
for sig in INT TERM; do
    want=$([ $sig = INT ] && echo 130 || echo 143)
    mkdir -p "$tmp/s$sig"
    out=$tmp/s$sig/m.h5
    "$train" -t 2 -q -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$out" -e 40 -b 8 --seed 5 2>"$tmp/err.$sig" &
    pid=$!
    n=0
    while [ ! -e "$out" ] && [ $n -lt 300 ]; do sleep 0.05; n=$((n + 1)); done
    sleep 0.1
    kill -$sig $pid
    wait $pid
    rc=$?
    check "SIG$sig exits $want (got $rc)" test "$rc" = "$want"
    check "after SIG$sig no temporary file is left" test "$(ls "$tmp/s$sig")" = "m.h5"
    if "$train" $T --resume "$out" -d "$tmp/d.h5" 2>"$tmp/err"; then
        pass "the SIG$sig checkpoint loads and resumes"
    else
        fail "the SIG$sig checkpoint loads and resumes" "$(cat "$tmp/err.$sig" "$tmp/err")"
    fi
done
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/full.h5" -e 40 -b 8 --seed 5
if "$helper" same-weights "$tmp/full.h5" "$tmp/sINT/m.h5" 2>"$tmp/err"; then
    pass "a run stopped by SIGINT and resumed ends with the weights of one never stopped"
else
    fail "a run stopped by SIGINT and resumed ends with the weights of one never stopped" "$(cat "$tmp/err")"
fi

# --- NaN -----------------------------------------------------------------------
cp "$tmp/a.h5" "$tmp/a.copy"
"$train" $T --resume "$tmp/a.h5" -d "$tmp/d.h5" -e 6 --lr 1e30 2>"$tmp/err"
rc=$?
check "a diverging loss exits 1 (got $rc)" test $rc = 1
check "the error names the step" grep -q 'step [0-9]* (epoch 5, batch [0-9]*).*\(NaN\|infinite\|finite\)' "$tmp/err"
check "the last good checkpoint is kept as it was" cmp -s "$tmp/a.h5" "$tmp/a.copy"

# --- mismatches ------------------------------------------------------------------
sed 's/^input 1x12x12/input 3x12x12/' "$tmp/net.nn" >"$tmp/rgbnet.nn"
"$train" $T -a "$tmp/rgbnet.nn" -d "$tmp/d.h5" -o "$tmp/m.h5" 2>"$tmp/err"
rc=$?
check "a channel mismatch is a one-line error naming both shapes" sh -c \
    "test $rc = 1 && test \$(wc -l <'$tmp/err') = 1 && grep -q '3x12x12.*1x12x12' '$tmp/err' && test ! -e '$tmp/m.h5'"
sed 's/^input 1x12x12/input 1x16x16/' "$tmp/net.nn" >"$tmp/bignet.nn"
"$train" $T -a "$tmp/bignet.nn" -d "$tmp/d.h5" -o "$tmp/m.h5" 2>"$tmp/err"
rc=$?
check "a size mismatch is a one-line error" sh -c "test $rc = 1 && test \$(wc -l <'$tmp/err') = 1"
sed 's/^dense classes/dense 7/' "$tmp/net.nn" >"$tmp/k7.nn"
"$train" $T -a "$tmp/k7.nn" -d "$tmp/d.h5" -o "$tmp/m.h5" 2>"$tmp/err"
rc=$?
check "a class-count mismatch is a one-line error" sh -c \
    "test $rc = 1 && test \$(wc -l <'$tmp/err') = 1 && grep -q '7 outputs.*4 classes' '$tmp/err'"
rm -f "$tmp/mc.h5"
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/mc.h5" --device cuda 2>"$tmp/err"
rc=$?
check "--device cuda trains on a GPU, or fails with one line saying why" sh -c \
    "{ test $rc = 0 && test -s '$tmp/mc.h5'; } || { test $rc = 1 && test \$(wc -l <'$tmp/err') = 1 && grep -q 'GPU\|CUDA\|cuDNN\|cuBLAS' '$tmp/err'; }"
check "--device auto trains (on the CPU where cuda cannot)" \
    "$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/ma.h5" --device auto

# resuming on another dataset: the message names the file and fits a trained model
"$train" $T --resume "$tmp/a.h5" -d "$tmp/rgb.h5" -e 6 2>"$tmp/err"
rc=$?
check "--resume on images of another size names the -d file and the trained size" sh -c \
    "test $rc = 1 && test \$(wc -l <'$tmp/err') = 1 && grep -q 'rgb.h5 has 3x12x12' '$tmp/err' &&
     grep -q 'trained on 1x12x12 images' '$tmp/err' && ! grep -q 'input line\\|synthetic' '$tmp/err'"
"$helper" make-dataset "$tmp/k7.h5" 1 12 12 7 64 16 >/dev/null 2>&1
"$train" $T --resume "$tmp/a.h5" -d "$tmp/k7.h5" -e 6 2>"$tmp/err"
rc=$?
check "--resume on another class count names the -d file and the trained classes" sh -c \
    "test $rc = 1 && test \$(wc -l <'$tmp/err') = 1 && grep -q '4 outputs.*k7.h5 has 7 classes' '$tmp/err' &&
     grep -q 'trained for 4 classes' '$tmp/err' && ! grep -q 'dense classes\\|synthetic' '$tmp/err'"

# --test on a dataset without test images: a warning, and training goes on
"$helper" make-dataset "$tmp/notest.h5" 1 12 12 4 64 0 >/dev/null 2>&1
"$train" -t 2 -a "$tmp/net.nn" -d "$tmp/notest.h5" -o "$tmp/nt.h5" -e 1 --test 2>"$tmp/err"
rc=$?
check "--test without test images warns on one line and trains (exit $rc)" sh -c \
    "test $rc = 0 && test \$(grep -c 'no test images' '$tmp/err') = 1 &&
     grep -q 'notest.h5: no test images; --test is ignored' '$tmp/err' && test -s '$tmp/nt.h5'"

# more memory than the machine has: refused before anything is allocated
# (1 TiB of activations; the address-space limit keeps a failed check small)
if [ "${NN_SANITIZE:-}" = 1 ]; then
    skip "a network too big for the memory" "sanitized build: AddressSanitizer needs more address space than the limit this case sets"
else
    "$helper" make-dataset "$tmp/d28.h5" 1 28 28 2 256 0 >/dev/null 2>&1
    printf 'input 1x28x28\nconv 100000 3\nflatten\ndense classes\n' >"$tmp/huge.nn"
    (ulimit -v 4000000 && exec "$train" $T -a "$tmp/huge.nn" -d "$tmp/d28.h5" -o "$tmp/huge.h5" \
        --train-limit 256 -b 1024) 2>"$tmp/err"
    rc=$?
    check "a network too big for the memory is a one-line error with the bytes needed and available" sh -c \
        "test $rc = 1 && test \$(wc -l <'$tmp/err') = 1 &&
         grep -q 'needs [0-9]* bytes of memory.*the machine has [0-9]* bytes' '$tmp/err' && test ! -e '$tmp/huge.h5'"
fi

# --- outputs are checked before any work -----------------------------------------
: >"$tmp/afile"
for opt in --plot --logdir; do
    "$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/o.h5" -e 1 $opt "$tmp/afile" 2>"$tmp/err"
    rc=$?
    check "$opt on a regular file fails before training: one line, no model" sh -c \
        "test $rc = 1 && test \$(wc -l <'$tmp/err') = 1 &&
         grep -q 'afile: not a directory' '$tmp/err' && test ! -e '$tmp/o.h5'"
done
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o /nonexist/m.h5 2>"$tmp/err"
check "-o in a missing directory fails naming it" sh -c "test $? = 1 && grep -q '/nonexist/m.h5' '$tmp/err'"
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/o.h5" --log /nonexist/l.tsv 2>"$tmp/err"
check "--log in a missing directory fails before training" sh -c \
    "test $? = 1 && grep -q '/nonexist/l.tsv' '$tmp/err' && test ! -e '$tmp/o.h5'"
mkdir -p "$tmp/fp/filters.gif"
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/o.h5" --plot "$tmp/fp" --filters-every 2 2>"$tmp/err"
check "a --filters-every GIF that cannot be written fails before training" sh -c \
    "test $? = 1 && grep -q 'filters.gif' '$tmp/err' && test ! -e '$tmp/o.h5'"
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/o.h5" -e 1 --filters-every 2 --filters-layer 99 2>"$tmp/err"
check "--filters-layer 99 lists the layers and the conv layers" sh -c \
    "test $? = 1 && grep -q \"no layer '99': layers are 0..7 or their names; conv layers are 0\" '$tmp/err'"
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/o.h5" -e 1 --plot "$tmp/deep/er/plots" \
    --logdir "$tmp/tb2/a/b" 2>"$tmp/err"
check "--plot and --logdir create their missing parents" sh -c \
    "test $? = 0 && test -s '$tmp/deep/er/plots/loss.png' && test -d '$tmp/tb2/a/b/train'"

# --- charts, filters, TensorBoard --------------------------------------------------
"$train" $T -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/p.h5" -e 2 --val 0.2 --test \
    --plot "$tmp/plots" --filters-every 5 --logdir "$tmp/tb" --log-every 3 2>"$tmp/err" ||
    fail "nn-train with --plot, --filters-every and --logdir" "$(cat "$tmp/err")"
for f in loss accuracy filters; do
    check "--plot writes $f.png, a PNG" sh -c "head -c 8 '$tmp/plots/$f.png' | od -An -c | grep -q 'P   N   G'"
done
# 384 training samples / 64 = 6 steps an epoch, 12 in all: snapshots at steps 0, 5, 10
frames=$("$helper" gif-frames "$tmp/plots/filters.gif" 2>&1 | cut -d' ' -f1)
check "the filter GIF has one frame per snapshot (3, got $frames)" test "$frames" = 3
py=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import tensorboard' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
    skip "TensorBoard reads the event files" "the tensorboard Python package is not installed"
elif "$py" - "$tmp/tb" >"$tmp/tblog" 2>&1 <<'EOF'
import sys
from tensorboard.backend.event_processing import event_accumulator as ea
d = sys.argv[1]
tr = ea.EventAccumulator(d + "/train", size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.IMAGES: 0})
te = ea.EventAccumulator(d + "/test", size_guidance={ea.SCALARS: 0})
tr.Reload(); te.Reload()
for run in (tr, te):
    tags = run.Tags()["scalars"]
    assert "loss" in tags and "accuracy" in tags, tags
    steps = [s.step for s in run.Scalars("loss")]
    assert steps == [3, 6, 9, 12], steps
tags = tr.Tags()
assert "conv1/weight" in tags["histograms"], tags["histograms"]
assert [h.step for h in tr.Histograms("conv1/weight")] == [0, 6, 12]
assert "conv1/filters" in tags["images"], tags["images"]
g = tr.Graph()
names = [n.name for n in g.node]
assert any(n.startswith("conv1/") for n in names) and any(n.startswith("pool1/") for n in names), names
print("ok")
EOF
then
    pass "TensorBoard reads the scalars, histograms, filter images and graph"
else
    fail "TensorBoard reads the scalars, histograms, filter images and graph" "$(tail -n 5 "$tmp/tblog")"
fi

# --- random search -------------------------------------------------------------------
"$train" $T --search 3 --search-lr 1e-4:1e-1 --search-wd 1e-8:1e-4 -a "$tmp/net.nn" \
    -d "$tmp/d.h5" -e 2 --val 0.2 -o "$tmp/search.tsv" 2>"$tmp/err" ||
    fail "nn-train --search 3" "$(cat "$tmp/err")"
check "the search TSV has a header and 3 trials" test "$(wc -l <"$tmp/search.tsv")" = 4
check "the search TSV is sorted by validation accuracy" sh -c \
    "tail -n +2 '$tmp/search.tsv' | cut -f5 | sort -g -r -c"
check "the search writes a PNG of the best trials" sh -c \
    "head -c 8 '$tmp/search.png' | od -An -c | grep -q 'P   N   G'"
"$train" $T --search 2 -a "$tmp/net.nn" -d "$tmp/d.h5" -o "$tmp/s2.tsv" 2>"$tmp/err"
rc=$?
check "a search without --val is a usage error (exit 2)" sh -c "test $rc = 2 && grep -q -- '--val' '$tmp/err'"
# the table is written through a temporary file renamed into place
mkdir "$tmp/sdir"
"$train" $T --search 1 -a "$tmp/net.nn" -d "$tmp/d.h5" -e 1 --val 0.2 -o "$tmp/sdir/s.tsv" 2>"$tmp/err"
check "a search leaves only its table and chart ($(ls "$tmp/sdir" | tr '\n' ' '))" \
    test "$(ls "$tmp/sdir" | tr '\n' ' ')" = "s.png s.tsv "
"$train" -t 2 --search 1 -a "$tmp/net.nn" -d "$tmp/d.h5" -e 1 --val 0.2 -o /nonexist/s.tsv 2>"$tmp/err"
rc=$?
check "a search table in a missing directory fails before the first trial, naming it" sh -c \
    "test $rc = 1 && test \$(wc -l <'$tmp/err') = 1 && grep -q '/nonexist/s.tsv:' '$tmp/err' &&
     ! grep -q 's\\.tsv\\.tmp\\|trial' '$tmp/err'"
exit $failed
