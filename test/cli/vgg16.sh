# vgg16.sh - pretrained Keras models through nn-fetch-data, offline. The
# reduced VGG-16 of test/golden/gen_keras.py (Keras's save_weights layout)
# is served by the local HTTP server (test/cli/fetch_server.py) and listed
# in a test registry (NN_DATASETS) as keras:tiny-vgg:caffe with its MD5,
# beside an architecture made from data/arch/vgg16.nn with fewer channels.
# Cases: a download checked by MD5 into the cache, and the cache reused; a
# wrong MD5 rejected with nothing kept; --from FILE without network; the
# model runs in nn-featmap (pool5's per-filter means equal PyTorch's) and
# nn-eval (PyTorch's class and probability, the registry's class names);
# notop with --size; dataset options refused; a file that is not Keras's;
# the installed registry's vgg16 rows; and a VGG-16 notop file of the real
# shapes (random weights) converts with data/arch/vgg16.nn through
# 'vgg16-notop --from FILE' and runs in nn-featmap.
. test/cli/lib.sh
prog=$NN_BIN/nn-fetch-data
www=$tmp/www reg=$tmp/reg
mkdir -p "$www" "$reg/arch" "$tmp/out"
export NN_FETCH_BACKOFF_MS=10
unset NN_DATASETS
if ! command -v python3 >/dev/null; then
    skip "nn-fetch-data vgg16" "python3 is not installed (it serves the test files)"
    exit 0
fi
find_h5py
cp test/golden/keras_small.h5 test/golden/keras1_notop.h5 "$www/"
T=$(printf '\t')
md5() { md5sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }

start_server "$www" "$tmp/log" || exit 1

# the reduced VGG: data/arch/vgg16.nn with 4, 8, 8, 16, 16 filters, 32-unit dense layers
sed -e 's/^input 3x224x224/input 3x64x96/' -e 's/^conv 64 /conv 4 /' -e 's/^conv 128 /conv 8 /' \
    -e 's/^conv 256 /conv 8 /' -e 's/^conv 512 /conv 16 /' -e 's/^dense 4096 /dense 32 /' \
    data/arch/vgg16.nn >"$reg/arch/tiny-vgg.nn"
printf '# ten classes\nzero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n' >"$reg/names.txt"
k2=$www/keras_small.h5 k1=$www/keras1_notop.h5
{
    echo "tiny-vgg${T}keras:tiny-vgg:caffe${T}keras_small.h5${T}$(size "$k2")${T}$(md5 "$k2")${T}$url/${T}@names.txt"
    echo "tiny-notop${T}keras:tiny-vgg:caffe:notop${T}keras1_notop.h5${T}$(size "$k1")${T}$(md5 "$k1")${T}$url/"
    echo "tiny-bad${T}keras:tiny-vgg:caffe${T}keras_small.h5${T}-${T}00000000000000000000000000000000${T}$url/"
} >"$reg/reg.tsv"
export NN_DATASETS=$reg/reg.tsv

run() {
    n=$1; shift
    NN_DATA_HOME=$tmp/cache "$prog" "$@" >"$tmp/out/$n.out" 2>"$tmp/out/$n.err"
    echo $? >"$tmp/out/$n.rc"
}
# same A B: two model files hold the same parameters and architecture (cmp
# would see HDF5's time stamps); true without h5py
same() {
    [ -z "$h5py" ] && return 0
    "$h5py" - "$1" "$2" <<'PY'
import sys
import h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(names.append)
ok = a.attrs["architecture"] == b.attrs["architecture"] and all(
    n in b and (not isinstance(a[n], h5py.Dataset) or np.array_equal(a[n][()], b[n][()])) for n in names)
sys.exit(0 if ok else 1)
PY
}
h5check() {
    name=$1 code=$2
    if [ -z "$h5py" ]; then skip "$name" "h5py is not installed"; return; fi
    got=$("$h5py" -c "import h5py, numpy as np
$code" 2>&1)
    if [ "$got" = ok ]; then pass "$name"; else fail "$name" "$got"; fi
}

# ---- download, cache, checksum ------------------------------------------------------
run get tiny-vgg -v -o "$tmp/m.h5"
[ "$(rc get)" = 0 ] && err_has get "tiny-vgg, 40 layers, [0-9]* parameters, input 3x64x96, output 10x1x1" \
    && err_has get "MD5 verified\|downloading" && [ -s "$tmp/cache/tiny-vgg/keras_small.h5" ] \
    && [ "$(requests /keras_small.h5)" = 1 ] \
    && pass "tiny-vgg: downloaded into the cache, MD5 checked, converted (40 layers, 3x64x96, output 10)" \
    || fail "download" "$(why get)"
run again tiny-vgg -q -o "$tmp/m2.h5"
[ "$(rc again)" = 0 ] && [ "$(requests /keras_small.h5)" = 1 ] && same "$tmp/m.h5" "$tmp/m2.h5" \
    && pass "a second run converts the cached file (no request) into the same model file" \
    || fail "cache" "$(why again) requests $(requests /keras_small.h5)"
run bad tiny-bad -o "$tmp/bad.h5"
[ "$(rc bad)" = 1 ] && err_has bad "checksum mismatch: expected 00000000000000000000000000000000" \
    && [ ! -e "$tmp/bad.h5" ] && [ -z "$(ls "$tmp/cache/tiny-bad" 2>/dev/null)" ] \
    && pass "a wrong MD5 is an error; no model and no download kept" || fail "MD5 mismatch" "$(why bad)"
before=$(requests /keras_small.h5)
rm -rf "$tmp/cache"
run from tiny-vgg --from test/golden/keras_small.h5 -v -o "$tmp/m3.h5"
[ "$(rc from)" = 0 ] && [ "$(requests /keras_small.h5)" = "$before" ] && err_has from "MD5 verified" \
    && same "$tmp/m.h5" "$tmp/m3.h5" \
    && pass "--from FILE: no network, MD5 verified, the same model" || fail "--from FILE" "$(why from)"
run from-other tiny-bad --from test/golden/keras_small.h5 -o "$tmp/m4.h5"
[ "$(rc from-other)" = 0 ] && err_has from-other "not the file the registry lists for tiny-bad" \
    && pass "--from FILE with another sum: converted, with a warning" || fail "--from FILE, other sum" "$(why from-other)"

h5check "the model file: caffe preprocessing (BGR, mean/255, std 1/255), class names, fc6 from Keras's fc1" "
f = h5py.File('$tmp/m.h5', 'r'); k = h5py.File('test/golden/keras_small.h5', 'r')
a = f.attrs
k1 = k['fc1/fc1/kernel:0'][:]                        # [96, 32], rows (h, w, c) of the 2x3x16 map
w = f['layers/032/weight'][:]                        # [32, 96], columns (c, h, w)
want = k1.reshape(2, 3, 16, 32).transpose(3, 2, 0, 1).reshape(32, 96)
ok = (a['channel_order'] == 'bgr' and np.allclose(a['input_mean'], np.array([103.939, 116.779, 123.68]) / 255)
      and np.allclose(a['input_std'], 1 / 255.0) and list(a['class_names'])[:2] == ['zero', 'one']
      and (w == want).all() and f['layers/032'].attrs['name'] == 'fc6')
print('ok' if ok else dict(a))"

# ---- the model in nn-featmap and nn-eval -------------------------------------------------
if [ -n "$h5py" ]; then
    "$h5py" - "$tmp/img.png" <<'PY'
import struct, sys, zlib
import h5py
img = h5py.File("test/golden/keras_golden.h5", "r")["images"][3]   # 64x96 RGB
rows = b"".join(b"\0" + img[y].tobytes() for y in range(img.shape[0]))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", img.shape[1], img.shape[0], 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PY
    "$NN_BIN/nn-featmap" -m "$tmp/m.h5" -l pool5 "$tmp/img.png" --top 16 -q >"$tmp/top.tsv" 2>"$tmp/featmap.err"
    st=$?
    h5check "nn-featmap runs the model: pool5's 16 per-filter means equal PyTorch's (1e-4)" "
import sys
if $st != 0: print(open('$tmp/featmap.err').read()); sys.exit()
g = h5py.File('test/golden/keras_golden.h5', 'r')['pool5'][3].mean(axis=(0, 1))   # [16]
rows = [l.split('\t') for l in open('$tmp/top.tsv').read().split('\n')[1:] if l]
got = {int(a): float(b) for a, b in rows}
ok = len(got) == 16 and all(abs(got[c] - g[c]) <= 1e-4 * abs(g).max() for c in range(16))
print('ok' if ok else (got, list(g)))"
    "$NN_BIN/nn-eval" -m "$tmp/m.h5" "$tmp/img.png" >"$tmp/pred.tsv" 2>"$tmp/eval.err"
    st=$?
    h5check "nn-eval: PyTorch's top class by its name from the registry, and its probability" "
import sys
if $st != 0: print(open('$tmp/eval.err').read()); sys.exit()
p = h5py.File('test/golden/keras_golden.h5', 'r')['probs'][3]
names = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']
row = open('$tmp/pred.tsv').read().split('\n')[1].split('\t')
ok = row[1] == names[int(p.argmax())] and abs(float(row[2]) - p.max()) < 1e-4
print('ok' if ok else (row, names[int(p.argmax())], p.max()))"
else
    skip "nn-featmap and nn-eval on the converted model" "h5py is not installed (it writes the test image)"
fi

# ---- notop, options, errors ---------------------------------------------------------------
run notop tiny-notop --size 32 -o "$tmp/n.h5"
[ "$(rc notop)" = 0 ] && err_has notop "tiny-notop, 31 layers, [0-9]* parameters, input 3x32x32, output 16x1x1" \
    && pass "a notop model (Keras 1 names) at --size 32: 31 layers, pool5 of 16x1x1" || fail "notop" "$(why notop)"
run topsize tiny-vgg --size 32 -o "$tmp/x.h5"
[ "$(rc topsize)" = 1 ] && err_has topsize "fix the input at 64x96; --size is for a notop model" \
    && pass "--size on a model with its classifier is an error" || fail "--size with the classifier" "$(why topsize)"
run opts tiny-vgg --limit 5 -o "$tmp/x.h5"
[ "$(rc opts)" = 2 ] && err_has opts "tiny-vgg is a pretrained model: --classes, --test-frac, --limit and --gray are for datasets" \
    && pass "dataset options on a model are a usage error (2)" || fail "dataset options" "$(why opts)"
run notkeras tiny-vgg --from test/golden/eval_model.h5 -o "$tmp/x.h5"
[ "$(rc notkeras)" = 1 ] && [ "$(grep -c . "$tmp/out/notkeras.err")" -le 2 ] \
    && err_has notkeras "eval_model.h5: not a Keras weight file" && [ ! -e "$tmp/x.h5" ] \
    && pass "an nn model file is not a Keras file: a one-line error, no output" || fail "not Keras" "$(why notkeras)"

name="a dataset of another size for the converted model: fetch advice, not architecture advice"
if "$NN_BUILD/test/test_data" make-dataset "$tmp/small.h5" 3 32 32 10 8 8 >/dev/null 2>&1; then
    "$NN_BIN/nn-eval" -m "$tmp/m.h5" -d "$tmp/small.h5" >/dev/null 2>"$tmp/fit.err"; r=$?
    if [ "$r" = 1 ] && [ "$(wc -l <"$tmp/fit.err")" = 1 ] &&
       grep -q 'takes 3x64x96 images.*fetch the data at that size (nn-fetch-data --size 64)' "$tmp/fit.err"; then
        pass "$name"
    else
        fail "$name" "status $r: $(cat "$tmp/fit.err")"
    fi
else
    fail "$name" "test_data make-dataset failed"
fi

# ---- the installed registry: vgg16 and vgg16-notop ---------------------------------------
NN_DATASETS= "$prog" --list >"$tmp/list" 2>&1
keras=https://storage.googleapis.com/tensorflow/keras-applications/vgg16/
grep -q "^vgg16${T}keras:vgg16:caffe${T}vgg16_weights_tf_dim_ordering_tf_kernels.h5${T}553467096${T}64373286793e3c8b2b4e3219cbf3544b${T}$keras$" "$tmp/list" \
    && grep -q "^vgg16-notop${T}keras:vgg16:caffe:notop${T}vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5${T}58889256${T}6d6bbae143d832006294945121d1f1fc${T}$keras$" "$tmp/list" \
    && [ "$(grep -vc '^#' data/imagenet_classes.txt)" = 1000 ] \
    && pass "the installed registry lists vgg16 and vgg16-notop (Keras's URL, sizes, MD5s); 1000 class names" \
    || fail "installed registry" "$(grep vgg16 "$tmp/list")"
if [ -z "$h5py" ]; then
    skip "vgg16-notop --from FILE" "h5py is not installed (it writes the file)"
else
    "$h5py" - "$tmp/vgg16_notop.h5" <<'PY'
import sys
import h5py, numpy as np
rng = np.random.default_rng(1)
names, cin = ["input_1"], 3
with h5py.File(sys.argv[1], "w") as f:
    for b, (convs, filters) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
        for k in range(1, convs + 1):
            n = "block%d_conv%d" % (b, k)
            names.append(n)
            g = f.create_group(n)
            g.attrs["weight_names"] = np.array([(n + "/kernel:0").encode(), (n + "/bias:0").encode()])
            g.create_dataset(n + "/kernel:0", data=(rng.standard_normal((3, 3, cin, filters)) * np.sqrt(2 / (9 * cin))).astype(np.float32))
            g.create_dataset(n + "/bias:0", data=np.zeros(filters, np.float32))
            cin = filters
        names.append("block%d_pool" % b)
        f.create_group(names[-1]).attrs["weight_names"] = np.array([])
    f.create_group("input_1").attrs["weight_names"] = np.array([])
    f.attrs["layer_names"] = np.array([n.encode() for n in names])
PY
    NN_DATASETS= NN_DATA_HOME=$tmp/cache "$prog" vgg16-notop --from "$tmp/vgg16_notop.h5" -o "$tmp/v.h5" 2>"$tmp/v.err"
    st=$?
    NN_DATASETS= NN_DATA_HOME=$tmp/cache "$prog" vgg16-notop --from "$tmp/vgg16_notop.h5" --size 64 -o "$tmp/v64.h5" 2>/dev/null \
        && "$NN_BIN/nn-featmap" -m "$tmp/v64.h5" -l 29 data/samples/fmnist-ankle-boot.png --top 3 -q >"$tmp/v.tsv" 2>"$tmp/v.err2"
    st2=$?
    [ $st = 0 ] && grep -q "vgg16-notop, 31 layers, 14714688 parameters, input 3x224x224, output 512x7x7" "$tmp/v.err" \
        && grep -q "not the file the registry lists for vgg16-notop" "$tmp/v.err" \
        && [ $st2 = 0 ] && [ "$(wc -l <"$tmp/v.tsv")" = 4 ] \
        && pass "vgg16-notop --from FILE (real shapes): data/arch/vgg16.nn's 31 layers, 14714688 parameters; nn-featmap runs layer 29" \
        || fail "vgg16-notop --from FILE" "$(cat "$tmp/v.err" "$tmp/v.err2" 2>/dev/null | tail -n 3)"
    NN_DATASETS= NN_DATA_HOME=$tmp/cache "$prog" vgg16 --from "$tmp/vgg16_notop.h5" -o "$tmp/v2.h5" 2>"$tmp/v2.err"
    [ $? = 1 ] && grep -q "has weights for 13 layers, .*vgg16.nn needs 16: nothing for layer 32 (dense 'fc6'); a notop file?" "$tmp/v2.err" \
        && [ ! -e "$tmp/v2.h5" ] \
        && pass "vgg16 (with the classifier) from a notop file: an error naming fc6" || fail "vgg16 from a notop file" "$(cat "$tmp/v2.err")"
fi
exit $failed
