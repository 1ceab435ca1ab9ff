# eval.sh - nn-eval end to end: the metrics table, the confusion matrix as
# TSV and PNG, predictions for PNG and JPEG files (also named on stdin),
# PyTorch's probabilities on the golden model, accuracy equal to nn-train's,
# and a one-line error with the right exit status for every kind of bad
# input. The tiny model, dataset and image files come from
# "test_eval files DIR" (test/test_eval.c).
. test/cli/lib.sh
E="$NN_BIN/nn-eval"
if [ ! -x "$E" ]; then fail "nn-eval" "$E is not built"; exit 1; fi
if ! "$NN_BUILD/test/test_eval" files "$tmp" 2>"$tmp/err"; then
    fail "nn-eval: test files" "$(cat "$tmp/err")"; exit 1
fi
root=$(pwd)
cd "$tmp" || exit 1

# fields FILE: 0 when every line of FILE has exactly N tab-separated fields
fields() { awk -F'\t' -v n="$2" 'NF != n { bad = 1 } END { exit bad || NR == 0 }' "$1"; }

# ---- metrics ----------------------------------------------------------------
name="nn-eval: metrics as TSV (metric, class, value) with loss, accuracy and per-class counts"
if "$E" -m model.h5 -d data.h5 >m.tsv 2>err && [ "$(head -n 1 m.tsv)" = "$(printf 'metric\tclass\tvalue')" ] &&
   fields m.tsv 3 && grep -q "^loss	-	" m.tsv && grep -q "^accuracy	-	" m.tsv &&
   awk -F'\t' 'NR == FNR { n[$1] = $2; next } $1 == "samples" && $2 in n { if ($3 != n[$2]) bad = 1; seen++ }
               END { exit bad || seen != 3 }' counts.tsv m.tsv; then
    pass "$name"
else
    fail "$name" "$(cat m.tsv err)"
fi

name="nn-eval: --confusion rows sum to the class counts and their diagonal to the hits"
acc=$(awk -F'\t' '$1 == "accuracy" && $2 == "-" { print $3 }' m.tsv)
if "$E" -m model.h5 -d data.h5 --confusion -q >c.tsv 2>err &&
   [ "$(head -n 1 c.tsv)" = "$(printf 'true\tcircle\tsquare\tcross')" ] && fields c.tsv 4 &&
   awk -F'\t' -v acc="$acc" 'NR == FNR { n[$1] = $2; next } FNR == 1 { next }
        { s = 0; for (i = 2; i <= NF; i++) s += $i; if (s != n[$1]) bad = 1; d += $(FNR); t += s; rows++ }
        END { if (rows != 3 || (d / t) - acc > 1e-6 || acc - (d / t) > 1e-6) bad = 1; exit bad }' counts.tsv c.tsv; then
    pass "$name"
else
    fail "$name" "$(cat c.tsv err)"
fi

name="nn-eval: --confusion-png writes a PNG heat map"
if "$E" -m model.h5 -d data.h5 --confusion-png conf.png -q >/dev/null 2>err &&
   [ "$(head -c 8 conf.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
    pass "$name"
else
    fail "$name" "$(cat err)"
fi

name="nn-eval: a two-class model gets a ROC AUC in [0, 1]; --meter picks the meters, topN sets K"
if "$E" -m model2.h5 -d data2.h5 -q >a.tsv 2>err &&
   awk -F'\t' '$1 == "auc" { found = ($3 >= 0 && $3 <= 1) } END { exit !found }' a.tsv &&
   "$E" -m model.h5 -d data.h5 --meter accuracy,top2 -q >k.tsv 2>>err &&
   [ "$(cut -f 1 k.tsv | tr '\n' ' ')" = "metric samples accuracy top2 " ] &&
   "$E" -m model.h5 -d data.h5 --split train -q >t.tsv 2>>err &&
   awk -F'\t' '$1 == "samples" && $2 == "-" { exit $3 != 60 }' t.tsv; then
    pass "$name"
else
    fail "$name" "$(cat a.tsv k.tsv err)"
fi

# ---- accuracy equals nn-train's ---------------------------------------------
name="nn-eval: test accuracy equals what nn-train reported for the same split"
if [ ! -x "$NN_BIN/nn-train" ]; then
    skip "$name" "nn-train is not built"
else
    printf 'input 1x8x8\nconv 4 3x3 pad=same\nbatchnorm\nrelu\nmaxpool 2\ndropout 0.5\nflatten\ndense classes\nsoftmax\n' >tiny.nn
    if "$NN_BIN/nn-train" -a tiny.nn -d data.h5 -o trained.h5 -e 2 --test --log log.tsv -q >/dev/null 2>err &&
       want=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "test_acc") c = i; next } { v = $c } END { print v }' log.tsv) &&
       got=$("$E" -m trained.h5 -d data.h5 -q 2>>err | awk -F'\t' '$1 == "accuracy" && $2 == "-" { print $3 }') &&
       [ -n "$got" ] && awk -v a="$got" -v b="$want" 'BEGIN { exit !(a == b && a != "nan" && a >= 0 && a <= 1) }'; then
        pass "$name"
    else
        fail "$name" "nn-eval ${got:-?}, nn-train ${want:-?}: $(cat err)"
    fi
fi

# ---- predictions for image files --------------------------------------------
name="nn-eval: predictions for PNG and JPEG files of any size as TSV (file, class, probability, rank)"
if "$E" -m model.h5 a.png b.jpg c.png >p.tsv 2>err && fields p.tsv 4 &&
   [ "$(head -n 1 p.tsv)" = "$(printf 'file\tclass\tprobability\trank')" ] &&
   [ "$(tail -n +2 p.tsv | cut -f 1,4 | tr '\t\n' ': ')" = "a.png:1 b.jpg:1 c.png:1 " ] &&
   awk -F'\t' 'NR > 1 && !($3 > 0 && $3 <= 1 && ($2 == "circle" || $2 == "square" || $2 == "cross")) { bad = 1 } END { exit bad }' p.tsv; then
    pass "$name"
else
    fail "$name" "$(cat p.tsv err)"
fi

name="nn-eval: --topk 3 gives every class of each file, most probable first, summing to 1"
if "$E" -m model.h5 -k 3 a.png b.jpg >p3.tsv 2>err && [ "$(wc -l <p3.tsv)" -eq 7 ] &&
   awk -F'\t' 'NR == 1 { next } $4 > 1 && $3 > prev { bad = 1 } { prev = $3; s[$1] += $3 }
        END { for (f in s) if (s[f] < 0.9999 || s[f] > 1.0001) bad = 1; exit bad }' p3.tsv &&
   [ "$(sed -n 2p p3.tsv)" = "$(sed -n 2p p.tsv)" ]; then
    pass "$name"
else
    fail "$name" "$(cat p3.tsv err)"
fi

name="nn-eval: '-' reads the file names from stdin, one a line"
if printf 'a.png\nb.jpg\n\nc.png\n' | "$E" -m model.h5 - >s.tsv 2>err && cmp -s s.tsv p.tsv; then
    pass "$name"
else
    fail "$name" "$(cat s.tsv err)"
fi

name="nn-eval: the golden model's probabilities equal PyTorch's within 1e-5"
if (cd "$root" && "$NN_BUILD/test/test_eval" golden "$tmp") 2>err &&
   "$E" -m "$root/test/golden/eval_model.h5" -k 4 "$tmp"/golden_*.png >g.tsv 2>>err &&
   awk -F'\t' 'NR == FNR { want[$1 "\t" $2] = $3; n++; next } FNR > 1 { k = $1 "\t" $2
        if (!(k in want)) { bad = 1; next } d = $3 - want[k]; if (d < 0) d = -d; if (d > 1e-5) bad = 1; got++ }
        END { exit bad || got != n || n == 0 }' golden.tsv g.tsv; then
    pass "$name"
else
    fail "$name" "$(cat g.tsv err)"
fi

# ---- errors: one line each, saying what to do -------------------------------
# err NAME STATUS PATTERN ARGS...: nn-eval ARGS exits with STATUS and prints
# exactly one line on stderr, which matches PATTERN.
err() {
    n=$1 want=$2 pat=$3; shift 3
    "$E" "$@" >out 2>err </dev/null; rc=$?
    if [ "$rc" = "$want" ] && [ "$(wc -l <err)" -eq 1 ] && grep -q -- "$pat" err; then
        pass "nn-eval error: $n"
    else
        fail "nn-eval error: $n" "status $rc (want $want): $(cat err)"
    fi
}
err "model and dataset differ in channels" 1 "3x8x8.*1x8x8" -m model_c3.h5 -d data.h5
err "model and dataset differ in size" 1 "1x10x10.*1x8x8" -m model_s10.h5 -d data.h5
err "model and dataset differ in classes" 1 "4 outputs.*3 classes" -m model_k4.h5 -d data.h5
err "empty dataset split" 1 "empty.h5.*no images" -m model.h5 -d empty.h5
err "missing model file" 1 "missing.h5: no such file" -m missing.h5 -d data.h5
err "unknown meter (lists the valid ones)" 2 "'f1'.*accuracy.*auc" -m model.h5 -d data.h5 --meter accuracy,f1
err "auc on a three-class model" 2 "two-class" -m model.h5 -d data.h5 --meter auc
cp data.h5 data-copy.h5
err "--confusion-png naming the dataset it reads" 2 "--confusion-png data.h5 would overwrite the -d file" -m model.h5 -d data.h5 --confusion-png data.h5
check "the dataset it refused to overwrite stays" cmp -s data.h5 data-copy.h5
# --device cuda: the same report where there is a GPU, else one line saying why not
"$NN_BIN/nn-eval" -m model.h5 -d data.h5 --meter accuracy >cpu.txt 2>/dev/null
"$NN_BIN/nn-eval" -m model.h5 -d data.h5 --meter accuracy --device cuda >gpu.txt 2>err; rc=$?
if [ "$rc" = 0 ] && cmp -s cpu.txt gpu.txt; then
    pass "--device cuda: the GPU's accuracy equals the CPU's"
elif [ "$rc" = 1 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "no GPU found\|no CUDA backend\|is not installed or not found" err; then
    pass "--device cuda: one line says why it cannot ($(cat err))"
else
    fail "--device cuda" "status $rc: $(cat err)"
fi
err "an unknown --device is a usage error that lists the devices" 2 "use cpu, cuda or auto" -m model.h5 -d data.h5 --device tpu
err "unknown option: one line naming it" 2 "^nn-eval: unknown option '--bogus' (see nn-eval --help)$" -m model.h5 -d data.h5 --bogus
err "neither data nor images" 2 "DATA.h5 or image files" -m model.h5
err "--topk above the class count names the count" 1 "--topk 4: model.h5 has 3 classes" -m model.h5 -d data.h5 -k 4
err "topN above the class count names the count" 1 "--meter top4: model.h5 has 3 classes" -m model.h5 -d data.h5 --meter accuracy,top4
err "--topk above the class count, with images" 1 "--topk 4: model.h5 has 3 classes" -m model.h5 -k 4 a.png
err "--confusion-png - beside the metrics table on stdout" 2 "--confusion-png - and the metrics table.*only one" -m model.h5 -d data.h5 --confusion-png -
err "--confusion-png - beside --confusion on stdout" 2 "--confusion-png - and --confusion.*only one" -m model.h5 -d data.h5 --confusion --confusion-png -
err "--confusion-png in a missing directory fails before the model is read" 1 "no-dir/c.png: cannot create" -m missing.h5 -d data.h5 --confusion-png no-dir/c.png
err "--confusion-png naming a directory" 1 "is a directory" -m model.h5 -d data.h5 --confusion-png .

# full: a device where every write fails with ENOSPC (a full disk), made here
name="nn-eval: a failed write to stdout (a full disk) is status 1 with one line"
if ! mknod -m 666 full c 1 7 2>/dev/null; then
    skip "$name" "mknod cannot make a full device here"
else
    ok=1 why=
    for args in "--meter list" "-q" "-q --confusion" "a.png"; do
        case $args in a.png) set -- -m model.h5 a.png ;; *) set -- -m model.h5 -d data.h5 $args ;; esac
        "$E" "$@" >full 2>err </dev/null; rc=$?
        if [ "$rc" != 1 ] || [ "$(wc -l <err)" -ne 1 ] || ! grep -q "standard output: write failed" err; then
            ok=0 why="$why [$args: status $rc: $(cat err)]"
        fi
    done
    if [ $ok = 1 ]; then pass "$name"; else fail "$name" "$why"; fi
fi

name="nn-eval error: an unreadable image is one line naming it, the others are still predicted, status 1"
"$E" -m model.h5 a.png bad.png c.png >out 2>err; rc=$?
if [ "$rc" = 1 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "bad.png.*skipped" err &&
   [ "$(tail -n +2 out | cut -f 1 | tr '\n' ' ')" = "a.png c.png " ]; then
    pass "$name"
else
    fail "$name" "status $rc: $(cat out err)"
fi

# ---- help and version -------------------------------------------------------
name="nn-eval: --help fits a screen and every option in it is in the man page; --version"
man="$root/man/man1/nn-eval.1"
"$E" --help >h.txt 2>&1; rc=$?
missing=$(grep -o -- '--[a-z][a-z-]*' h.txt | sort -u | while read -r o; do
    grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$man" || echo "$o"; done)
if [ "$rc" = 0 ] && [ "$(wc -l <h.txt)" -le 24 ] && [ -z "$missing" ] &&
   "$E" --version | grep -q '^nn-eval (nn) [0-9]'; then
    pass "$name"
else
    fail "$name" "status $rc, $(wc -l <h.txt) lines, not in the man page: $missing"
fi
exit $failed
