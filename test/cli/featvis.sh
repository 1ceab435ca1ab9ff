# featvis.sh - nn-featmap and nn-vis end to end: the spike search piped
# into the visualization, the activation file, every picture they draw
# (decoded back), the initialization study from an architecture, the top
# images of a dataset, and a one-line error with the right exit status for
# every kind of bad input. The small models and pictures come from
# "test_vis --save-model" and friends, the dataset from
# "test_featmap --save-data".
. test/cli/lib.sh
F="$NN_BIN/nn-featmap" V="$NN_BIN/nn-vis"
T="$NN_BUILD/test/test_vis"
for p in "$F" "$V" "$T" "$NN_BUILD/test/test_featmap"; do
    if [ ! -x "$p" ]; then fail "featvis" "$p is not built"; exit 1; fi
done
if ! { "$T" --save-model "$tmp/m.h5" && "$T" --save-gray-model "$tmp/g.h5" &&
       "$T" --save-image "$tmp/arch.png" 80 60 1 && "$T" --save-image "$tmp/b.jpg" 50 70 2 &&
       "$NN_BUILD/test/test_featmap" --save-data "$tmp/data.h5"; } 2>"$tmp/err"; then
    fail "featvis: test files" "$(cat "$tmp/err")"; exit 1
fi
root=$(pwd)
cd "$tmp" || exit 1
# the small network: conv1 relu pool1 conv2 relu flatten dense softmax (16 filters at 3, 4)
FAST="--size 24 --upscaling-steps 3 --steps 10"
info() { "$T" --info "$1" 2>/dev/null; }

# ---- the spike search piped into the visualization --------------------------
name="pipe: nn-featmap --top 6 -o - | nn-vis --filters-from - draws the 6 top filters"
if "$F" -m m.h5 -l 4 arch.png --top 6 >top.tsv 2>err &&
   "$F" -m m.h5 -l 4 arch.png --top 6 -o - 2>err | "$V" -m m.h5 -l 4 --filters-from - -o sheet.png $FAST >vis.tsv 2>>err &&
   [ "$(head -n 1 top.tsv)" = "$(printf 'filter\tmean')" ] && [ "$(wc -l <top.tsv)" -eq 7 ] &&
   [ "$(tail -n +2 top.tsv | cut -f 1)" = "$(tail -n +2 vis.tsv | cut -f 1)" ] &&
   info sheet.png | grep -q '^png '; then
    pass "$name"
else
    fail "$name" "$(cat top.tsv vis.tsv err)"
fi

name="pipe: the --top table piped in works too, and its filters gain over the noise"
if "$F" -m m.h5 -l conv2 arch.png --top 2 2>err | "$V" -m m.h5 -l relu4 --filters-from - -o two.png $FAST >v2.tsv 2>>err &&
   [ "$(wc -l <v2.tsv)" -eq 3 ] && awk -F'\t' 'NR > 1 && !($3 > 5 * $2 && $3 > $4) { bad = 1 } END { exit bad }' v2.tsv; then
    pass "$name"
else
    fail "$name" "$(cat v2.tsv err)"
fi

# ---- the activation file ---------------------------------------------------
name="nn-featmap -o: /means [N,C], /maps [N,C,H,W] with --maps, model, layer and inputs"
if "$F" -m m.h5 -l 4 arch.png b.jpg -o acts.h5 --maps --top 3 -q >/dev/null 2>err; then
    if ! /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
        skip "$name" "python3-h5py is not installed"
    elif /usr/bin/python3 - <<'EOF' 2>>err
import h5py
f = h5py.File("acts.h5", "r")
a = f.attrs
assert f["means"].shape == (2, 16) and f["maps"].shape == (2, 16, 16, 16), f["means"].shape
assert a["format"] == "nn-acts" and a["layer"] == 4 and a["layer_name"] == "relu4", dict(a)
assert a["model"] == "m.h5" and list(a["inputs"]) == ["arch.png", "b.jpg"], dict(a)
assert len(f["top"]) == 3
m = f["maps"][()].mean(axis=(2, 3))
assert abs(m - f["means"][()]).max() < 1e-5
EOF
    then
        pass "$name"
    else
        fail "$name" "$(cat err)"
    fi
else
    fail "$name" "$(cat err)"
fi

name="nn-vis --filters-from ACTS.h5 takes the file's layer and top filters; --frames is a GIF of every scale"
if "$V" -m m.h5 --filters-from acts.h5 -o from.jpg --frames from.gif $FAST >f.tsv 2>err &&
   [ "$(wc -l <f.tsv)" -eq 4 ] && info from.jpg | grep -q '^jpeg ' && info from.gif | grep -q '^gif .* 3$' &&
   [ "$(head -c 3 from.jpg | od -An -tx1 | tr -d ' \n')" = ffd8ff ]; then
    pass "$name"
else
    fail "$name" "$(cat f.tsv err; info from.gif)"
fi

name="nn-vis: one filter at the tutorial's scales gives a 408 px image (--upscaling-steps 12)"
if "$V" -m m.h5 -l 1 -f 3 -o one.png --steps 2 -q 2>err && [ "$(info one.png)" = "png 408 408 3" ]; then
    pass "$name"
else
    fail "$name" "$(info one.png) $(cat err)"
fi

# ---- pictures ---------------------------------------------------------------
name="nn-featmap --plot, --grid and --hist write PNGs that decode"
if "$F" -m m.h5 -l 4 arch.png --plot spikes.png --grid maps.png --hist hist.png >h.tsv 2>err &&
   info spikes.png | grep -q '^png ' && info maps.png | grep -q '^png ' && info hist.png | grep -q '^png ' &&
   [ "$(cut -f 1 h.tsv | tr '\n' ' ')" = "layer 1 4 " ]; then
    pass "$name"
else
    fail "$name" "$(cat h.tsv err)"
fi

name="nn-vis --weights: the raw filters of a conv layer as a PNG; the gray network works too"
if "$V" -m m.h5 --weights -l conv1 -o w.png 2>err && info w.png | grep -q '^png ' &&
   "$V" -m g.h5 -l 6 -f 0,5 -o g.png $FAST -q 2>>err && info g.png | grep -q '^png ' &&
   "$F" -m g.h5 -l 2 arch.png --top 2 >/dev/null 2>>err; then
    pass "$name"
else
    fail "$name" "$(cat err)"
fi

# ---- the initialization study ------------------------------------------------
printf 'input 100x1x1\n' >study.nn
for i in 1 2 3 4 5; do printf 'dense 100 bias=none\nrelu\n' >>study.nn; done
name="init study: -a ARCH --init normal:0.01 --input random:1000: ReLU means shrink 10-17x a layer"
if "$F" -a study.nn --init normal:0.01 --seed 1 --input random:1000 --hist study.png >s.tsv 2>err &&
   [ "$(wc -l <s.tsv)" -eq 6 ] && info study.png | grep -q '^png ' &&
   awk -F'\t' 'NR > 2 { r = p / $4; if (r < 10 || r > 17) bad = 1 } NR > 1 { p = $4 } END { exit bad }' s.tsv; then
    pass "$name"
else
    fail "$name" "$(cat s.tsv err)"
fi
name="init study: --init he keeps the ReLU means within 2x"
if "$F" -a study.nn --init he --input random:1000 --hist he.png >he.tsv 2>err &&
   awk -F'\t' 'NR > 1 { if (!lo || $4 < lo) lo = $4; if ($4 > hi) hi = $4 } END { exit !(hi < 2 * lo) }' he.tsv; then
    pass "$name"
else
    fail "$name" "$(cat he.tsv err)"
fi

# ---- the dataset images that excite a filter -----------------------------------
name="nn-featmap -d --top-images: K ranked rows of the split and a --montage PNG"
if "$F" -m m.h5 -l 4 -d data.h5 --filter 2 --top-images 5 -b 2 --montage top.png >ti.tsv 2>err &&
   [ "$(head -n 1 ti.tsv)" = "$(printf 'rank\tindex\tlabel\tclass\tmean')" ] && [ "$(wc -l <ti.tsv)" -eq 6 ] &&
   awk -F'\t' 'NR > 2 && $5 > p { bad = 1 } NR > 1 { p = $5; if ($2 < 0 || $2 >= 23) bad = 1 } END { exit bad }' ti.tsv &&
   info top.png | grep -q '^png '; then
    pass "$name"
else
    fail "$name" "$(cat ti.tsv err)"
fi

# ---- help, version ---------------------------------------------------------------
for p in nn-featmap nn-vis; do
    name="$p: --help (-h) fits a screen and every option in it is in the man page; --version (-V)"
    "$NN_BIN/$p" --help >help.txt 2>err
    sed 's/\\-/-/g' "$root/man/man1/$p.1" >man.txt 2>/dev/null
    missing=$(grep -o -- '--[a-z][a-z-]*' help.txt | sort -u | while read -r o; do
        grep -q -- "$o" man.txt || echo "$o"; done)
    if [ "$(wc -l <help.txt)" -le 32 ] && [ "$(awk '{ if (length > m) m = length } END { print m }' help.txt)" -le 80 ] &&
       [ -z "$missing" ] && "$NN_BIN/$p" --version | grep -q "^$p [0-9]" &&
       "$NN_BIN/$p" -h 2>&1 | cmp -s - help.txt && [ "$("$NN_BIN/$p" -V 2>&1)" = "$("$NN_BIN/$p" --version)" ]; then
        pass "$name"
    else
        fail "$name" "$(wc -l <help.txt) lines; not in man/man1/$p.1: $missing"
    fi
done

# ---- architectures with 'dense classes' (--classes) ----------------------------------
name="nn-featmap -a: every shipped architecture's first layers (its 'classes' is 10 by default)"
bad=
for a in cnn4 fmnist lenet5 mlp6; do
    "$F" -a "$root/data/arch/$a.nn" -l 1 --input random:2 --hist "h-$a.png" >h.tsv 2>err &&
        [ "$(wc -l <h.tsv)" -ge 2 ] && info "h-$a.png" | grep -q '^png ' || bad="$bad $a: $(cat err)"
done
if [ -z "$bad" ]; then pass "$name"; else fail "$name" "$bad"; fi
name="nn-featmap -a --classes 3: the last dense layer has 3 units"
if "$F" -a "$root/data/arch/fmnist.nn" --classes 3 -l fc2 --input random:1 --top 10 >c.tsv 2>err &&
   [ "$(wc -l <c.tsv)" -eq 4 ]; then
    pass "$name"
else
    fail "$name" "$(cat c.tsv err)"
fi

# ---- outputs: checked before any work; one output on standard output -------------
name="nn-featmap: an output that cannot be created fails before any work, leaving no other output"
if "$F" -m m.h5 -l 0 arch.png -o o.h5 --plot p.png --grid nodir/g.png >out 2>err; then rc=0; else rc=$?; fi
if [ "$rc" = 1 ] && [ ! -e o.h5 ] && [ ! -e p.png ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "nodir/g.png: cannot create" err; then
    pass "$name"
else
    fail "$name" "status $rc: $(cat err; ls o.h5 p.png 2>&1)"
fi
name="nn-vis: a --frames file that cannot be created fails before any work, leaving no -o image"
if "$V" -m m.h5 -l 4 -f 0 -o v.png --frames nodir/f.gif $FAST >out 2>err; then rc=0; else rc=$?; fi
if [ "$rc" = 1 ] && [ ! -e v.png ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "nodir/f.gif: cannot create" err; then
    pass "$name"
else
    fail "$name" "status $rc: $(cat err; ls v.png 2>&1)"
fi
# a character device like /dev/full, made here (never the real one)
if mknod -m 666 full c 1 7 2>/dev/null; then
    for p in nn-featmap nn-vis; do
        name="$p: a failed write to standard output exits 1 with one line"
        if [ $p = nn-featmap ]; then set -- -m m.h5 -l 0 arch.png --top 3; else set -- -m m.h5 -l 4 -f 0 -o - $FAST; fi
        if "$NN_BIN/$p" "$@" >full 2>err; then rc=0; else rc=$?; fi
        if [ "$rc" = 1 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "^$p: standard output: write failed" err; then
            pass "$name"
        else
            fail "$name" "status $rc: $(cat err)"
        fi
    done
else
    skip "a failed write to standard output" "mknod is not permitted here"
fi

# ---- errors ----------------------------------------------------------------------
# err PROG NAME STATUS PATTERN ARGS...: PROG ARGS exits with STATUS and prints
# one line matching PATTERN
err() {
    p=$1 n=$2 want=$3 pat=$4; shift 4
    "$NN_BIN/$p" "$@" >out 2>err </dev/null; rc=$?
    if [ "$rc" = "$want" ] && [ "$(wc -l <err)" -eq 1 ] && grep -q -- "$pat" err; then
        pass "$p error: $n"
    else
        fail "$p error: $n" "status $rc (want $want): $(cat err)"
    fi
}
printf 'filter\tmean\n' >empty.tsv
err nn-vis "a layer with no filters lists the conv layers" 1 "layer 5 is 'flatten', which has no filters; conv layers are 0, 3" -m m.h5 -l 5 -f 0 -o x.png
err nn-vis "an unknown layer lists the valid ones" 1 "no layer '99': layers are 0..7" -m m.h5 -l 99 -f 0 -o x.png
err nn-vis "a filter out of range lists the layer's filters" 1 "no filter 16 in layer 4.*0..15" -m m.h5 -l 4 -f 2,16 -o x.png
err nn-vis "--weights of a layer that is not a conv" 1 "layer 1 is 'relu'.*conv layers are 0, 3" -m m.h5 --weights -l 1 -o x.png
err nn-vis "a filter list with no filters" 1 "empty.tsv: no filter indices" -m m.h5 -l 4 --filters-from empty.tsv -o x.png
err nn-vis "a bad -f list" 2 "filter indices separated by commas" -m m.h5 -l 4 -f 1,x -o x.png
err nn-vis "no filters given" 2 "give the filters" -m m.h5 -l 4 -o x.png
err nn-vis "both -f and --filters-from" 2 "give one of -f F\[,F...\] and --filters-from FILE, not both" -m m.h5 -l 4 -f 0 --filters-from top.tsv -o x.png
err nn-vis "-o - and --frames - both on stdout" 2 "-o - and --frames - both write to standard output" -m m.h5 -l 4 -f 0 -o - --frames -
err nn-vis "--size 0 names the option and range" 2 "^nn-vis: --size: '0' is not a whole number from 1 to 16384" -m m.h5 -l 4 -f 0 -o x.png --size 0
err nn-vis "--steps -1 names the option and range" 2 "^nn-vis: --steps: '-1' is not a whole number >= 0" -m m.h5 -l 4 -f 0 -o x.png --steps -1
err nn-vis "--cols -1 names the option and range" 2 "^nn-vis: --cols: '-1' is not a whole number >= 0" -m m.h5 -l 4 -f 0 -o x.png --cols -1
err nn-vis "--upscaling-steps 1000 (sizes past int) says the last scale is too large" 1 "the last scale would be over 10^9 pixels wide" -m m.h5 -l 4 -f 0 -o x.png --size 28 --upscaling-steps 1000
err nn-vis "--filters-from a file of a layer with other filters than -l's" 1 "acts.h5 ranks the filters of layer 4; -l 0 is layer 0, whose filters are others" -m m.h5 -l 0 --filters-from acts.h5 -o x.png
check "nn-vis --filters-from a relu's file draws at its conv (the same filters)" \
    "$NN_BIN/nn-vis" -q -m m.h5 -l 3 --filters-from acts.h5 -o same-filters.png $FAST
err nn-vis "a size the network cannot take names the layer type, not the parser's line" 1 "layer 4: the network does not take 1x1 inputs (maxpool: a 2x2 window does not fit the 1x1 input); start from larger images (--size)$" -m m.h5 -l 4 -f 1 -o x.png --size 1 --upscaling-steps 1
err nn-vis "--upscaling-factor 0.5 names the option and range" 2 "^nn-vis: --upscaling-factor: '0.5' is not a number >= 1" -m m.h5 -l 4 -f 0 -o x.png --upscaling-factor 0.5
err nn-vis "a missing value names the option" 2 "^nn-vis: option '--size' needs a value" -m m.h5 -l 4 -f 0 -o x.png --size
err nn-vis "a missing model file" 1 "missing.h5" -m missing.h5 -l 4 -f 0 -o x.png
cp m.h5 m-copy.h5
err nn-vis "-o naming the model it reads" 2 "^nn-vis: -o m.h5 would overwrite the -m file it reads" -m m.h5 -l 4 -f 0 -o m.h5
check "nn-vis: the model it refused to overwrite stays" cmp -s m.h5 m-copy.h5
err nn-vis "-o and --frames naming one file" 2 "^nn-vis: -o and --frames both write .*one.gif" -m m.h5 -l 4 -f 0 -o one.gif --frames ./one.gif
err nn-vis "-m - and --filters-from - (two inputs from stdin)" 2 "^nn-vis: -m - and --filters-from - both read standard input" -m - -l 4 --filters-from - -o x.png
err nn-featmap "-o naming an input image" 2 "^nn-featmap: -o arch.png would overwrite the IMAGE file it reads" -m m.h5 -l 4 arch.png -o arch.png
err nn-featmap "--grid naming the model" 2 "^nn-featmap: --grid m.h5 would overwrite the -m file it reads" -m m.h5 -l 4 arch.png --grid m.h5
err nn-featmap "image files with -d alone (they would be ignored)" 2 "IMAGE files and --input go with" -m m.h5 -l 4 -d data.h5 --filter 1 --top-images 3 arch.png
check "nn-featmap: the files it refused to overwrite stay" sh -c "cmp -s m.h5 m-copy.h5 && test ! -e one.gif"
name="nn-featmap -o: 5000 inputs (their names past 64 KiB of attribute) write, and nn-vis reads the file"
if "$NN_BIN/nn-featmap" -q -m m.h5 -l 4 --input random:5000 --top 2 -o many.h5 2>err &&
   "$NN_BIN/nn-vis" -q -m m.h5 --filters-from many.h5 -o many.png $FAST 2>>err && [ -s many.png ]; then
    pass "$name"
else
    fail "$name" "$(cat err)"
fi
err nn-vis "an unknown option" 2 "^nn-vis: unknown option '--bogus' (see nn-vis --help)$" -m m.h5 -l 4 -f 0 -o x.png --bogus
err nn-vis "an unknown short option" 2 "^nn-vis: unknown option '-z' (see nn-vis --help)$" -m m.h5 -l 4 -f 0 -o x.png -qz
# --device cuda runs where there is a GPU (and cuDNN), else says which is missing
rm -f xc.png
"$NN_BIN/nn-vis" -m m.h5 -l 4 -f 0 -o xc.png --size 8 --upscaling-steps 2 --steps 2 --device cuda >out 2>err </dev/null; rc=$?
if [ "$rc" = 0 ] && [ -s xc.png ]; then
    pass "nn-vis --device cuda: ran on the GPU"
elif [ "$rc" = 1 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "no GPU found\|no CUDA backend\|is not installed or not found" err; then
    pass "nn-vis --device cuda: one line says why it cannot ($(cat err))"
else
    fail "nn-vis --device cuda" "status $rc: $(cat err)"
fi
check "nn-vis --device auto runs where cuda cannot" \
    "$NN_BIN/nn-vis" -q -m m.h5 -l 4 -f 0 -o xa.png --size 8 --upscaling-steps 2 --steps 2 --device auto
err nn-featmap "an unknown layer lists the valid ones" 1 "no layer 'conv9': layers are 0..7" -m m.h5 -l conv9 arch.png --top 3
err nn-featmap "a filter out of range" 1 "no filter 16 in layer 4.*0..15" -m m.h5 -l 4 -d data.h5 --filter 16 --top-images 3
err nn-featmap "dataset images of the wrong channel count" 1 "data.h5: the images have 3 channels; the model takes 1" -m g.h5 -l 2 -d data.h5 --filter 0 --top-images 3
err nn-featmap "--grid of a layer without maps" 1 "layer 6 (dense) has no maps" -m m.h5 -l 6 arch.png --grid x.png
err nn-featmap "an image that does not decode" 1 "top.tsv" -m m.h5 -l 4 top.tsv --top 3
err nn-featmap "no inputs" 2 "no inputs" -m m.h5 -l 4 --top 3
err nn-featmap "--input random:0" 2 "random:N" -m m.h5 -l 4 --input random:0 --top 3
err nn-featmap "both -m and -a" 2 "give a model" -m m.h5 -a study.nn -l 4 arch.png --top 3
err nn-featmap "an unknown option" 2 "^nn-featmap: unknown option '--bogus' (see nn-featmap --help)$" -m m.h5 -l 4 arch.png --top 3 --bogus
err nn-featmap "-o - and --plot - both on stdout" 2 "-o - and --plot - both write to standard output" -m m.h5 -l 0 arch.png -o - --plot -
err nn-featmap "--plot - next to the --top table" 2 "--plot - and the --top table both write to standard output" -m m.h5 -l 0 arch.png --top 3 --plot -
err nn-featmap "--top 0 names the option and range" 2 "^nn-featmap: --top: '0' is not a whole number >= 1" -m m.h5 -l 4 arch.png --top 0
err nn-featmap "--top-images 0 names the option and range" 2 "^nn-featmap: --top-images: '0' is not a whole number >= 1" -m m.h5 -l 4 -d data.h5 --filter 0 --top-images 0
err nn-featmap "-b 0 names the option and range" 2 "^nn-featmap: -b: '0' is not a whole number >= 1" -m m.h5 -l 4 arch.png --top 3 -b 0
err nn-featmap "--filter -1 names the option and range" 2 "^nn-featmap: --filter: '-1' is not a whole number >= 0" -m m.h5 -l 4 -d data.h5 --filter -1 --top-images 3
err nn-featmap "--threads -2 names the option and range" 2 "^nn-featmap: --threads: '-2' is not a whole number >= 0" -m m.h5 -l 4 arch.png --top 3 --threads -2
err nn-featmap "--classes with a model file" 2 "--classes goes with -a" -m m.h5 --classes 3 -l 4 arch.png --top 3
printf 'input 3x28x28\nconv 4 3x3\nrelu\n' >s28.nn
err nn-featmap "dataset images of another size than the model's" 1 "data.h5 has 3x32x32 images (CxHxW) but s28.nn takes 3x28x28" -a s28.nn -l 1 -d data.h5 --filter 0 --top-images 3
if [ -x "$NN_BUILD/test/test_eval" ] && mkdir ev && "$NN_BUILD/test/test_eval" files ev >/dev/null 2>&1; then
    printf 'input 1x8x8\nconv 2 3x3\n' >e8.nn
    err nn-featmap "--top-images on an empty split" 1 "ev/empty.h5: the test split has no images" -a e8.nn -l 0 -d ev/empty.h5 --filter 0 --top-images 3
else
    skip "nn-featmap error: --top-images on an empty split" "test_eval is not built"
fi
# --device cuda: the same spikes where there is a GPU (within rounding: 4
# significant digits), else one line saying why not
"$NN_BIN/nn-featmap" -m m.h5 -l 4 arch.png --top 3 >spk-cpu.tsv 2>/dev/null
"$NN_BIN/nn-featmap" -m m.h5 -l 4 arch.png --top 3 --device cuda >spk-gpu.tsv 2>err; rc=$?
if [ "$rc" = 0 ] && awk -F'\t' 'NR == FNR { v[FNR] = $NF; next }
        { d = $NF - v[FNR]; if ((d < 0 ? -d : d) > 1e-3 * (v[FNR] < 0 ? -v[FNR] : v[FNR]) + 1e-6) bad = 1 }
        END { exit bad }' spk-cpu.tsv spk-gpu.tsv; then
    pass "nn-featmap --device cuda: the GPU's spikes are the CPU's"
elif [ "$rc" = 1 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q "no GPU found\|no CUDA backend\|is not installed or not found" err; then
    pass "nn-featmap --device cuda: one line says why it cannot ($(cat err))"
else
    fail "nn-featmap --device cuda" "status $rc: $(cat err)"
fi
exit $failed
