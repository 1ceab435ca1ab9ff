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

name="a table on stdin, a log y axis"
if "$P" -o d.png -y train_loss --logy - <a.tsv 2>err && "$T" --info d.png | grep -q '^png '; then
    pass "$name"
else
    fail "$name" "$(cat err)"
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
err "a bad --size" 2 "size takes WxH" -o out.png -y train_loss --size 10x10 a.tsv
err "an unknown option" 2 "unknown option" -o out.png -y train_loss --bogus a.tsv
err "an unwritable chart" 1 "no-such-dir" -o no-such-dir/c.png -y train_loss a.tsv
exit $failed
