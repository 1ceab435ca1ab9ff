# plot.sh - nn-plot: several TSV tables on one chart that decodes, legends
# from LABEL=FILE, stdin, and one-line errors with the documented statuses.
. test/cli/lib.sh
P="$NN_BIN/nn-plot" T="$NN_BUILD/test/test_vis"
for p in "$P" "$T"; do
    if [ ! -x "$p" ]; then fail "plot" "$p is not built"; exit 1; fi
done
cd "$tmp" || exit 1
printf 'epoch\ttrain_loss\ttest_loss\n1\t2.0\t2.1\n2\t1.0\tnan\n3\t0.5\t0.9\n' >a.tsv
printf '# a comment\nepoch\ttrain_loss\ttest_loss\n1\t1.5\t1.6\n2\t0.7\t0.8\n' >b.tsv

name="two runs, two columns: a PNG of the requested size"
if "$P" -o c.png -x epoch -y train_loss,test_loss --title "loss" --size 640x400 \
        adam=a.tsv b.tsv 2>err && [ "$("$T" --info c.png)" = "png 640 400 3" ]; then
    pass "$name"
else
    fail "$name" "$("$T" --info c.png 2>&1) $(cat err)"
fi

cp a.tsv a-copy.tsv
"$P" -o a.tsv -y train_loss run=a.tsv >/dev/null 2>err
check "-o naming a table it reads is a usage error (exit 2); the table stays" sh -c \
    "test $? = 2 && grep -q -- '-o a.tsv would overwrite the TSV file it reads' err && cmp -s a.tsv a-copy.tsv"

cp a.tsv 'lr=0.01.tsv'
check "a table whose name holds '=' (lr=0.01.tsv) is a file, not LABEL=FILE" \
    "$P" -o eq.png -y train_loss 'lr=0.01.tsv'
"$P" -o two.png -y train_loss - - <a.tsv >/dev/null 2>err
check "two tables from standard input is a usage error (exit 2)" sh -c \
    "test $? = 2 && grep -q 'both read standard input' err && test ! -e two.png"

name="a table on stdin, a log y axis"
if "$P" -o d.png -y train_loss --logy - <a.tsv 2>err && "$T" --info d.png | grep -q '^png '; then
    pass "$name"
else
    fail "$name" "$(cat err)"
fi

name="without -x the x axis is named after the first column (the same chart as --xlabel epoch)"
if "$P" -o x1.png -y train_loss a.tsv 2>err && "$P" -o x2.png -y train_loss --xlabel epoch a.tsv 2>>err &&
   "$P" -o x3.png -y train_loss --xlabel '' a.tsv 2>>err && cmp -s x1.png x2.png && ! cmp -s x1.png x3.png; then
    pass "$name"
else
    fail "$name" "$(cat err)"
fi

name="--ymin alone: the top of the axis is the largest value (the same chart as --ymin 0 --ymax 2)"
if "$P" -o y1.png -y train_loss --ymin 0 a.tsv 2>err && "$P" -o y2.png -y train_loss --ymin 0 --ymax 2 a.tsv 2>>err &&
   "$P" -o y3.png -y train_loss a.tsv 2>>err && cmp -s y1.png y2.png && ! cmp -s y1.png y3.png; then
    pass "$name"
else
    fail "$name" "$(cat err)"
fi

name="--size at its limits 200x120 draws a chart of that size"
if "$P" -o s.png -y train_loss --size 200x120 a.tsv 2>err && [ "$("$T" --info s.png)" = "png 200 120 3" ]; then
    pass "$name"
else
    fail "$name" "$("$T" --info s.png 2>&1) $(cat err)"
fi

name="a failed write to stdout (a full disk) is status 1 with one line"
if ! mknod -m 666 full c 1 7 2>/dev/null; then
    skip "$name" "mknod cannot make a full device here"
else
    ok=1 why=
    for o in "-o - -y train_loss a.tsv" "--help" "--version"; do
        # shellcheck disable=SC2086
        "$P" $o >full 2>err; rc=$?
        if [ "$rc" != 1 ] || [ "$(wc -l <err)" -ne 1 ] || ! grep -q "^nn-plot: standard output: write failed" err; then
            ok=0 why="$why [$o: status $rc: $(cat err)]"
        fi
    done
    if [ $ok = 1 ]; then pass "$name"; else fail "$name" "$why"; fi
fi

# err NAME STATUS PATTERN ARGS...: one line on stderr matching PATTERN, the status
err() {
    n=$1 want=$2 pat=$3; shift 3
    rm -f out.png
    "$P" "$@" >out 2>err </dev/null; rc=$?
    if [ "$rc" = "$want" ] && [ "$(wc -l <err)" -eq 1 ] && grep -q -- "$pat" err &&
       [ ! -e out.png ] && [ -z "$(ls | grep '\.tmp\.')" ]; then
        pass "nn-plot error: $n"
    else
        fail "nn-plot error: $n" "status $rc (want $want): $(cat err)"
    fi
}
err "a column the table lacks names the file and the column" 1 "a.tsv: no column 'acc'" -o out.png -y acc a.tsv
err "a missing file" 1 "nope.tsv: cannot open" -o out.png -y train_loss nope.tsv
printf '' >empty.tsv
err "an empty table" 1 "empty.tsv: empty" -o out.png -y train_loss empty.tsv
err "no -y" 2 "give the y columns" -o out.png a.tsv
err "no files" 2 "one or more TSV files" -o out.png -y train_loss
err "a --size below the limits says them" 2 "size: '199x120' is not WxH from 200x120 to 16384x16384" -o out.png -y train_loss --size 199x120 a.tsv
err "a --size above the limits says them" 2 "200x120 to 16384x16384" -o out.png -y train_loss --size 800x16385 a.tsv
err "a --size that is not WxH" 2 "200x120 to 16384x16384" -o out.png -y train_loss --size 800x500px a.tsv
err "--ymin above --ymax" 2 "ymin 5 must be below --ymax 1" -o out.png -y train_loss --ymin 5 --ymax 1 a.tsv
err "--ymin equal to --ymax" 2 "ymin 1 must be below --ymax 1" -o out.png -y train_loss --ymin 1 --ymax 1 a.tsv
err "--ymin nan" 2 "ymin: 'nan' is not a finite number" -o out.png -y train_loss --ymin nan a.tsv
err "--ymax inf" 2 "ymax: 'inf' is not a finite number" -o out.png -y train_loss --ymax inf a.tsv
err "--ymin 0 on a log axis" 2 "log y axis" -o out.png -y train_loss --logy --ymin 0 a.tsv
err "--ymin alone above every value" 1 "ymin 5: no value" -o out.png -y train_loss --ymin 5 a.tsv
mkdir -p adir
err "a directory as a table" 1 "adir: is a directory" -o out.png -y train_loss adir
err "an unknown option: one line naming it" 2 "^nn-plot: unknown option '--bogus' (see nn-plot --help)$" -o out.png -y train_loss --bogus a.tsv
err "an unknown short option" 2 "^nn-plot: unknown option '-Z' (see nn-plot --help)$" -o out.png -y train_loss -Z a.tsv
err "a missing value" 2 "option '--size' needs a value" -o out.png -y train_loss a.tsv --size
err "an unwritable chart" 1 "no-such-dir" -o no-such-dir/c.png -y train_loss a.tsv
err "the chart is checked before the tables are read" 1 "no-such-dir/c.png: cannot create" -o no-such-dir/c.png -y train_loss nope.tsv
err "a directory as the chart" 1 "adir: is a directory" -o adir -y train_loss a.tsv

# ---- how a chart replaces what is there (nn_write_file) ----------------------
name="a chart written through a symbolic link replaces the file it names, keeps the link and the mode"
printf 'old' >target.png && chmod 600 target.png && ln -s target.png link.png
if "$P" -o link.png -y train_loss a.tsv 2>err && [ -L link.png ] &&
   [ "$(readlink link.png)" = target.png ] && "$T" --info target.png | grep -q '^png ' &&
   [ "$(stat -c %a target.png)" = 600 ] && [ -z "$(ls | grep '\.tmp\.')" ]; then
    pass "$name"
else
    fail "$name" "$(ls -l link.png target.png) $(cat err)"
fi
name="a chart to a full device is an error, and the device stays a device"
if [ -c full ]; then
    "$P" -o full -y train_loss a.tsv 2>err; rc=$?
    if [ "$rc" = 1 ] && grep -q 'No space left on device' err && [ -c full ]; then
        pass "$name"
    else
        fail "$name" "status $rc: $(cat err); $(ls -l full)"
    fi
else
    skip "$name" "mknod cannot make a full device here"
fi
exit $failed
