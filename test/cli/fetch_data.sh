# fetch_data.sh - nn-fetch-data end to end: small archives of every format,
# built here, are served by a local HTTP server (test/cli/fetch_server.py)
# and listed in a test registry (NN_DATASETS). Cases: a clean download and
# the cache; a dropped connection resumed with a Range request; a run
# interrupted mid-download leaves no output and the next run resumes; a
# wrong checksum is rejected and nothing is kept; 404 fails at once, 500
# after its retries; a truncated archive fails; a corrupt JPEG inside an
# archive is skipped with a warning naming it; an empty folder and an
# unknown name fail; --classes with --test-frac 0.15 splits 85/15 per
# class; CIFAR-10 pixels are HWC; and the real Fashion-MNIST of Debian's
# dataset-fashion-mnist converts without network (timed).
. test/cli/lib.sh
prog=$NN_BIN/nn-fetch-data
www=$tmp/www
mkdir -p "$www" "$tmp/out"
export NN_FETCH_BACKOFF_MS=10
unset NN_DATASETS
if ! command -v python3 >/dev/null; then
    skip "nn-fetch-data" "python3 is not installed (it builds the test archives and serves them)"
    exit 0
fi
find_h5py # reads the outputs where it is installed

# ---- fixtures ----------------------------------------------------------------
python3 - "$www" "$tmp" <<'PY'
import base64, gzip, hashlib, io, os, struct, sys, tarfile, zipfile, zlib
www, tmp = sys.argv[1], sys.argv[2]
JPEG = base64.b64decode(
 "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/"
 "2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAKAAwDASIAAhEBAxEB/8QAHwAA"
 "AQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRol"
 "JicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW"
 "19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdh"
 "cRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJma"
 "oqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDxHwT+zz/q/wDRv0r2zSf2ef8AQk/0b/x2"
 "vaPBFrB+7/cx/wDfIr2rSrWH7En7mP8A75FePnPFuP8Aab/icfhpxzmf1Tfp3P/Z")

def png(w, h, c, seed):
    """An 8-bit gray (c=1) or RGB (c=3) PNG of w x h."""
    rows = b"".join(b"\0" + bytes((x * 31 + y * 17 + k * 7 + seed) % 256
                                  for x in range(w) for k in range(c)) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

def tar_gz(path, members):
    with tarfile.open(path, "w:gz") as t:
        for name, data in members:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))

def idx(dims, data):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)

def gz(path, data):
    with open(path, "wb") as f:
        f.write(gzip.compress(data, mtime=0))

# tiny MNIST: 5x6 images, 3 classes; pixel (i, y, x) = (i*7 + y*6 + x) % 256, label i % 3
for split, n in (("train", 30), ("t10k", 12)):
    pix = [(i * 7 + p) % 256 for i in range(n) for p in range(30)]
    gz(f"{www}/{split}-images-idx3-ubyte.gz", idx([n, 5, 6], pix))
    gz(f"{www}/{split}-labels-idx1-ubyte.gz", idx([n], [i % 3 for i in range(n)]))
# tiny CIFAR-10: 4 records per train batch, 3 test records
def rec(i):
    return bytes([i % 10]) + bytes((i + p) % 256 for p in range(3072))
m = [(f"cifar-10-batches-bin/data_batch_{b}.bin", b"".join(rec(b * 4 + i) for i in range(4))) for b in range(1, 6)]
m += [("cifar-10-batches-bin/test_batch.bin", b"".join(rec(100 + i) for i in range(3))),
      ("cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"),
      ("cifar-10-batches-bin/readme.html", os.urandom(1 << 16))]  # does not compress: the download takes a while
tar_gz(f"{www}/cifar-10-binary.tar.gz", m)
data = open(f"{www}/cifar-10-binary.tar.gz", "rb").read()
open(f"{www}/cifar-cut.tar.gz", "wb").write(data[: len(data) // 2])
# pets: 20 shiba_inu, 20 samoyed, 6 Abyssinian; the annotations list 14+6, 14+6, 4+2
pets, lists = [], {"trainval.txt": [], "test.txt": []}
for breed, n, cid in (("shiba_inu", 20, 34), ("samoyed", 20, 30), ("Abyssinian", 6, 1)):
    for i in range(1, n + 1):
        data = JPEG if i % 2 else png(14 + i, 9 + i % 4, 3, i)  # PNGs named .jpg occur in the real set
        pets.append((f"images/{breed}_{i}.jpg", data))
        lists["test.txt" if i > n * 0.7 else "trainval.txt"].append(f"{breed}_{i} {cid} 1 1")
pets.append(("images/README.mat", b"not an image"))
lists["trainval.txt"].append("shiba_inu_99 34 1 1")  # only in the archive with a corrupt JPEG
tar_gz(f"{www}/images.tar.gz", pets)
tar_gz(f"{www}/annotations.tar.gz", [("annotations/" + k, ("\n".join(v) + "\n").encode()) for k, v in lists.items()]
       + [("annotations/xmls/x.xml", b"<x/>")])
tar_gz(f"{www}/images-bad.tar.gz", pets + [("images/shiba_inu_99.jpg", JPEG[:300])])
# dogs vs cats
os.makedirs(f"{tmp}/kaggle", exist_ok=True)
with zipfile.ZipFile(f"{tmp}/kaggle/train.zip", "w") as z:
    for i in range(10):
        z.writestr(f"train/cat.{i}.jpg", JPEG)
        z.writestr(f"train/dog.{i}.jpg", png(12, 10, 3, i))
# folders: two classes of different sizes, one gray; an empty folder; a class folder without images
for cls, n in (("circle", 5), ("square", 7)):
    os.makedirs(f"{tmp}/folder/{cls}", exist_ok=True)
    for i in range(n):
        open(f"{tmp}/folder/{cls}/{i}.png", "wb").write(png(10 + i, 8 + i, 1 if cls == "circle" else 3, i))
open(f"{tmp}/folder/square/notes.txt", "w").write("not an image\n")
os.makedirs(f"{tmp}/folder/empty", exist_ok=True)
os.makedirs(f"{tmp}/emptyfolder", exist_ok=True)
# sums for the registry
with open(f"{tmp}/sums", "w") as f:
    for name in sorted(os.listdir(www)):
        p = f"{www}/{name}"
        if os.path.isfile(p):
            f.write("%s %s %d\n" % (name, hashlib.sha256(open(p, "rb").read()).hexdigest(), os.path.getsize(p)))
PY
[ $? = 0 ] || { fail "fixtures" "python3 could not build the test archives"; exit 1; }
sum() { awk -v n="$1" '$1 == n { print $2 }' "$tmp/sums"; }

start_server "$www" "$tmp/log" || exit 1

# the test registry: sources are the server (nothing listens on port 1: --mirror is needed)
T=$(printf '\t')
{
    echo "# test registry"
    for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
        echo "tiny-mnist${T}idx${T}$f${T}-${T}$(sum $f)${T}$url/${T}zero,one,two"
    done
    echo "tiny-bad${T}idx${T}train-images-idx3-ubyte.gz${T}-${T}$(sum t10k-images-idx3-ubyte.gz)${T}$url/"
    echo "tiny-cifar${T}cifar10${T}cifar-10-binary.tar.gz${T}-${T}$(sum cifar-10-binary.tar.gz)${T}$url/"
    echo "cifar-cut${T}cifar10${T}cifar-cut.tar.gz${T}-${T}$(sum cifar-cut.tar.gz)${T}$url/"
    echo "tiny-pets${T}pets${T}images.tar.gz${T}-${T}$(sum images.tar.gz)${T}$url/"
    echo "tiny-pets${T}pets${T}annotations.tar.gz${T}-${T}$(sum annotations.tar.gz)${T}$url/"
    echo "pets-bad${T}pets${T}images-bad.tar.gz${T}-${T}$(sum images-bad.tar.gz)${T}$url/"
    echo "pets-bad${T}pets${T}annotations.tar.gz${T}-${T}$(sum annotations.tar.gz)${T}$url/"
    echo "gone${T}idx${T}absent-images.gz${T}-${T}-${T}$url/"
    echo "broken${T}idx${T}500${T}-${T}-${T}$url/status/"
    echo "kaggle${T}dogs-vs-cats${T}train.zip${T}-${T}-${T}-"
} >"$tmp/reg.tsv"
export NN_DATASETS=$tmp/reg.tsv

# run NAME ARGS...: runs the program with a fresh cache, stdout/stderr in $tmp/out/NAME.{out,err}
run() {
    n=$1; shift
    rm -rf "$tmp/cache"
    NN_DATA_HOME=$tmp/cache "$prog" "$@" >"$tmp/out/$n.out" 2>"$tmp/out/$n.err"
    echo $? >"$tmp/out/$n.rc"
}
# py CODE: runs CODE with h5py (f: the output file) and passes when it prints "ok"
h5check() {
    name=$1 file=$2 code=$3
    if [ -z "$h5py" ]; then skip "$name" "h5py is not installed"; return; fi
    got=$("$h5py" -c "import h5py, numpy as np
f = h5py.File('$file', 'r')
$code" 2>&1)
    if [ "$got" = ok ]; then pass "$name"; else fail "$name" "$got"; fi
}

# ---- the program's own options --------------------------------------------------
"$prog" --help >"$tmp/help" 2>&1 && grep -q -- "--test-frac" "$tmp/help" && [ "$(wc -l <"$tmp/help")" -le 40 ] \
    && pass "--help fits a screen and names the options" || fail "--help" "$(head -3 "$tmp/help")"
"$prog" --version | grep -q '^nn-fetch-data (nn) ' && "$prog" -V | grep -q '^nn-fetch-data (nn) ' \
    && pass "--version and -V" || fail "--version" "no version line"
run badopt --no-such-option
[ "$(rc badopt)" = 2 ] && [ "$(wc -l <"$tmp/out/badopt.err")" = 1 ] \
    && [ "$(cat "$tmp/out/badopt.err")" = "nn-fetch-data: unknown option '--no-such-option' (see nn-fetch-data --help)" ] \
    && pass "an unknown option is a usage error (2): one line with the program's name, not its path" \
    || fail "unknown option" "$(why badopt)"
run badshort -Z tiny-mnist -o "$tmp/x.h5"
[ "$(rc badshort)" = 2 ] && [ "$(cat "$tmp/out/badshort.err")" = "nn-fetch-data: unknown option '-Z' (see nn-fetch-data --help)" ] \
    && pass "an unknown short option is one line naming it" || fail "unknown short option" "$(why badshort)"
run noout tiny-mnist; [ "$(rc noout)" = 2 ] && err_has noout "-o FILE" && pass "no -o is a usage error" || fail "no -o" "$(why noout)"
run unknown no-such-set -o "$tmp/x.h5"
[ "$(rc unknown)" = 2 ] && err_has unknown "no-such-set: unknown dataset" && err_has unknown "tiny-mnist" \
    && pass "an unknown dataset name is an error (2) listing the known ones" || fail "unknown dataset" "$(why unknown)"

# --list: the test registry, and the real one (found beside the program)
run list --list
[ "$(rc list)" = 0 ] && head -1 "$tmp/out/list.out" | grep -q "^name${T}format${T}file${T}bytes${T}sha256${T}source$" \
    && grep -q "^tiny-cifar${T}cifar10${T}" "$tmp/out/list.out" && pass "--list prints the registry as TSV" || fail "--list" "$(why list)"
NN_DATASETS= "$prog" --list >"$tmp/real-list" 2>&1
ok=1
for n in mnist fashion-mnist cifar10 oxford-pets dogs-vs-cats; do grep -q "^$n$T" "$tmp/real-list" || ok=0; done
[ $ok = 1 ] && ! grep -v '^name' "$tmp/real-list" | awk -F "$T" '$5 != "-" && length($5) != 64 && !($2 ~ /^keras:/ && length($5) == 32)' | grep -q . \
    && pass "the installed registry lists mnist, fashion-mnist, cifar10, oxford-pets, dogs-vs-cats with SHA-256 sums (MD5 only for Keras's weights)" \
    || fail "real registry" "$(head -3 "$tmp/real-list")"

# outputs: checked before any download; a failed write to stdout is status 1
before=$(grep -c . "$tmp/log" 2>/dev/null)
run nodir tiny-mnist --mirror "$url/" -o "$tmp/no-dir/m.h5"
[ "$(rc nodir)" = 1 ] && err_has nodir "no-dir/m.h5: cannot create" && [ "$(wc -l <"$tmp/out/nodir.err")" = 1 ] \
    && [ "$(grep -c . "$tmp/log" 2>/dev/null)" = "$before" ] && [ ! -e "$tmp/cache/tiny-mnist" ] \
    && pass "-o in a missing directory fails (1) before any download" || fail "-o missing directory" "$(why nodir)"
run outdir tiny-mnist --mirror "$url/" -o "$tmp"
[ "$(rc outdir)" = 1 ] && err_has outdir "is a directory" && [ "$(grep -c . "$tmp/log" 2>/dev/null)" = "$before" ] \
    && pass "-o naming a directory fails (1) before any download" || fail "-o directory" "$(why outdir)"
if ! mknod -m 666 "$tmp/full" c 1 7 2>/dev/null; then
    skip "a full stdout" "mknod cannot make a full device here"
else
    NN_DATA_HOME=$tmp/cache "$prog" --list >"$tmp/full" 2>"$tmp/out/full.err"; st=$?
    [ $st = 1 ] && [ "$(wc -l <"$tmp/out/full.err")" = 1 ] && grep -q "^nn-fetch-data: standard output: write failed" "$tmp/out/full.err" \
        && pass "--list to a full disk: status 1, one line" || fail "--list to a full disk" "status $st: $(cat "$tmp/out/full.err")"
    NN_DATA_HOME=$tmp/cache "$prog" -q "folder:$tmp/folder" --size 6 -o - >"$tmp/full" 2>"$tmp/out/full.err"; st=$?
    [ $st = 1 ] && [ "$(wc -l <"$tmp/out/full.err")" = 1 ] && grep -q "^nn-fetch-data: standard output: write failed" "$tmp/out/full.err" \
        && pass "-o - to a full disk: status 1, one line" || fail "-o - to a full disk" "status $st: $(cat "$tmp/out/full.err")"
fi

# ---- downloads -------------------------------------------------------------------
out=$tmp/m.h5
run clean tiny-mnist --mirror "$url/" -o "$out"
if [ "$(rc clean)" = 0 ] && [ -s "$out" ] && err_has clean "30 train + 12 test images of 5x6x1, 3 classes" \
   && [ -s "$tmp/cache/tiny-mnist/train-images-idx3-ubyte.gz" ]; then
    pass "clean download: 4 idx files into the cache, 30 + 12 images"
else
    fail "clean download" "$(why clean)"
fi
h5check "the idx dataset reads back with h5py: shapes, pixels, labels, class names, attributes" "$out" "
x = f['train/images'][:]; y = f['train/labels'][:]
want = np.array([(i * 7 + p) % 256 for i in range(30) for p in range(30)], np.uint8).reshape(30, 5, 6, 1)
a = f.attrs
ok = (x.dtype == np.uint8 and x.shape == (30, 5, 6, 1) and (x == want).all() and y.dtype == np.int32
      and list(y) == [i % 3 for i in range(30)] and f['test/images'].shape == (12, 5, 6, 1)
      and list(a['class_names']) == ['zero', 'one', 'two'] and a['format'] == 'nn-dataset'
      and a['version'] == 1 and a['classes'] == 3 and abs(a['mean'][0] - want.mean() / 255) < 1e-6
      and abs(a['std'][0] - want.std() / 255) < 1e-6 and 'train-images-idx3-ubyte.gz' in a['checksum']
      and f['train/images'].compression == 'gzip' and f['train/images'].chunks is not None)
print('ok' if ok else (x.shape, list(a.items())))"
before=$(requests /train-images-idx3-ubyte.gz)
NN_DATA_HOME=$tmp/cache2 "$prog" -q tiny-mnist --mirror "$url/" -o "$out" 2>/dev/null
NN_DATA_HOME=$tmp/cache2 "$prog" -q tiny-mnist --mirror "$url/" -o "$out" 2>"$tmp/again.err"
[ $? = 0 ] && [ "$(requests /train-images-idx3-ubyte.gz)" = $((before + 1)) ] \
    && pass "a second run takes the verified files from the cache (no request)" || fail "cache" "$(cat "$tmp/again.err")"
run stdout tiny-mnist --mirror "$url/" -o -
head -c 8 "$tmp/out/stdout.out" | od -An -c | grep -q 'H   D   F' && [ "$(rc stdout)" = 0 ] \
    && pass "-o - writes the HDF5 file to stdout" || fail "-o -" "$(why stdout)"

run drop tiny-mnist --mirror "$url/drop/" -o "$tmp/drop.h5"
grep -q "^GET /drop/train-images-idx3-ubyte.gz bytes=[0-9][0-9]*-" "$tmp/log" && [ "$(rc drop)" = 0 ] && [ -s "$tmp/drop.h5" ] \
    && pass "a dropped connection is resumed with a Range request" || fail "resume" "$(why drop)"

# interrupted: the first request of each file stalls after half the body; stop the program there
rm -rf "$tmp/cache"
NN_DATA_HOME=$tmp/cache "$prog" -q tiny-cifar --mirror "$url/stall/" -o "$tmp/int.h5" 2>"$tmp/int.err" &
pid=$!
part=$tmp/cache/tiny-cifar/cifar-10-binary.tar.gz.part
i=0
while [ ! -s "$part" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $pid 2>/dev/null  # (an asynchronous job of a script ignores SIGINT)
wait $pid 2>/dev/null
if [ -s "$part" ] && [ ! -e "$tmp/int.h5" ] && ! ls "$tmp" | grep -q '^int\.h5\.tmp'; then
    pass "an interrupted download leaves no output file, and its .part"
else
    fail "interrupted" "part $(ls -l "$part" 2>&1); $(cat "$tmp/int.err")"
fi
size=$(wc -c <"$part")
NN_DATA_HOME=$tmp/cache "$prog" -q tiny-cifar --mirror "$url/" -o "$tmp/int.h5" 2>"$tmp/int2.err"
[ $? = 0 ] && grep -q "^GET /cifar-10-binary.tar.gz bytes=$size-" "$tmp/log" && [ -s "$tmp/int.h5" ] \
    && pass "the next run resumes from the .part (Range: bytes=$size-)" || fail "resume after interrupt" "$(cat "$tmp/int2.err")"

run mismatch tiny-bad --mirror "$url/" -o "$tmp/bad.h5"
[ "$(rc mismatch)" = 1 ] && err_has mismatch "checksum mismatch" && [ ! -e "$tmp/bad.h5" ] \
    && [ -z "$(ls "$tmp/cache/tiny-bad" 2>/dev/null)" ] \
    && pass "a checksum mismatch is an error and the file is not kept" || fail "checksum mismatch" "$(why mismatch)"
run 404 gone -o "$tmp/gone.h5"
[ "$(rc 404)" = 1 ] && err_has 404 "HTTP 404" && [ "$(requests /absent-images.gz)" = 1 ] && [ ! -e "$tmp/gone.h5" ] \
    && pass "404 fails at once, no output" || fail "404" "$(why 404)"
run 500 broken --retries 2 -o "$tmp/broken.h5"
[ "$(rc 500)" = 1 ] && err_has 500 "HTTP 500" && [ "$(requests /status/500)" = 3 ] \
    && pass "500 is retried (--retries 2: 3 requests), then an error" || fail "500" "$(why 500) $(requests /status/500)"
run flaky tiny-mnist --mirror "$url/flaky/" -o "$tmp/flaky.h5"
[ "$(rc flaky)" = 0 ] && pass "a server that fails twice then answers is retried to success" || fail "flaky" "$(why flaky)"
run cut cifar-cut --mirror "$url/" -o "$tmp/cut.h5"
[ "$(rc cut)" = 1 ] && err_has cut "cifar-cut.tar.gz: .*truncated" && [ ! -e "$tmp/cut.h5" ] \
    && pass "a truncated archive (right checksum) is an error, no output" || fail "truncated archive" "$(why cut)"

# ---- formats -----------------------------------------------------------------------
run cifar tiny-cifar --mirror "$url/" -o "$tmp/c.h5"
[ "$(rc cifar)" = 0 ] && err_has cifar "20 train + 3 test images of 32x32x3, 10 classes" \
    && pass "CIFAR-10 binary: 5 train batches + test batch" || fail "cifar" "$(why cifar)"
h5check "CIFAR-10 records become HWC images with the names of batches.meta.txt" "$tmp/c.h5" "
x = f['train/images'][:]
r = np.array([(10 + p) % 256 for p in range(3072)], np.uint8).reshape(3, 32, 32).transpose(1, 2, 0)
ok = ((x[6] == r).all() and list(f['train/labels'][:5]) == [4, 5, 6, 7, 8]
      and f.attrs['class_names'][9] == 'truck' and list(f['test/labels'][:]) == [0, 1, 2])
print('ok' if ok else 'pixels or labels differ')"
run cifar-opts tiny-cifar --mirror "$url/" --gray --limit 5 --size 16 -o "$tmp/c2.h5"
[ "$(rc cifar-opts)" = 0 ] && err_has cifar-opts "5 train + 3 test images of 16x16x1" \
    && pass "--gray --limit 5 --size 16" || fail "cifar options" "$(why cifar-opts)"

run pets tiny-pets --mirror "$url/" --size 8 -o "$tmp/p.h5"
[ "$(rc pets)" = 0 ] && err_has pets "32 train + 14 test images of 8x8x3, 3 classes" \
    && pass "pets: 3 breeds, the split of trainval.txt and test.txt" || fail "pets" "$(why pets)"
h5check "pets classes are the breeds, sorted as the dataset numbers them" "$tmp/p.h5" "
print('ok' if list(f.attrs['class_names']) == ['Abyssinian', 'samoyed', 'shiba_inu'] else list(f.attrs['class_names']))"
run pets-split tiny-pets --mirror "$url/" --classes shiba_inu,samoyed --test-frac 0.15 --size 8 -o "$tmp/p2.h5"
[ "$(rc pets-split)" = 0 ] && err_has pets-split "34 train + 6 test images of 8x8x3, 2 classes" \
    && pass "--classes shiba_inu,samoyed --test-frac 0.15: 34 + 6 of 40" || fail "pets split" "$(why pets-split)"
h5check "the 85/15 split holds in every class, labels in --classes order" "$tmp/p2.h5" "
tr = np.bincount(f['train/labels'][:], minlength=2); te = np.bincount(f['test/labels'][:], minlength=2)
ok = list(f.attrs['class_names']) == ['shiba_inu', 'samoyed'] and list(tr) == [17, 17] and list(te) == [3, 3]
print('ok' if ok else (list(tr), list(te)))"
NN_DATA_HOME=$tmp/cache3 "$prog" -q tiny-pets --mirror "$url/" --classes shiba_inu,samoyed --test-frac 0.15 --size 8 -o "$tmp/p3.h5" 2>/dev/null
NN_DATA_HOME=$tmp/cache3 "$prog" -q tiny-pets --mirror "$url/" --classes shiba_inu,samoyed --test-frac 0.15 --size 8 --seed 7 -o "$tmp/p4.h5" 2>/dev/null
h5check "the split is a pure function of the seed" "$tmp/p2.h5" "
g = h5py.File('$tmp/p3.h5', 'r'); k = h5py.File('$tmp/p4.h5', 'r')
same = (f['test/images'][:] == g['test/images'][:]).all()
print('ok' if same and f['test/images'].shape == k['test/images'].shape else 'differs')"
run pets-limit tiny-pets --mirror "$url/" --size 8 --limit 5 --gray -o "$tmp/pl.h5"
[ "$(rc pets-limit)" = 0 ] && err_has pets-limit "5 train + 5 test images of 8x8x1, 3 classes" \
    && pass "pets --limit 5 --gray: 5 images per split, one channel" || fail "pets limit" "$(why pets-limit)"
run pets-cls tiny-pets --mirror "$url/" --classes shiba_inu,corgi -o "$tmp/p5.h5"
[ "$(rc pets-cls)" = 1 ] && err_has pets-cls "no class 'corgi'; the classes are: Abyssinian, samoyed, shiba_inu" \
    && pass "an unknown --classes name is an error listing the classes" || fail "unknown class" "$(why pets-cls)"
run pets-bad pets-bad --mirror "$url/" --size 8 -o "$tmp/pb.h5"
[ "$(rc pets-bad)" = 0 ] && err_has pets-bad "images/shiba_inu_99.jpg" && err_has pets-bad "skipped" \
    && err_has pets-bad "32 train + 14 test" \
    && pass "a corrupt JPEG in the archive is skipped with a warning naming it" || fail "corrupt JPEG" "$(why pets-bad)"
run pets-nosize tiny-pets --mirror "$url/" -o "$tmp/p6.h5"
[ "$(rc pets-nosize)" = 1 ] && err_has pets-nosize "differ in size.*--size" \
    && pass "images of several sizes without --size: an error that says --size" || fail "no --size" "$(why pets-nosize)"

run kaggle kaggle -o "$tmp/k.h5"
[ "$(rc kaggle)" = 1 ] && err_has kaggle "cannot be downloaded.*--from" \
    && pass "dogs-vs-cats without --from says where the file must come from" || fail "kaggle without --from" "$(why kaggle)"
run kaggle-from kaggle --from "$tmp/kaggle" --size 10 -o "$tmp/k.h5"
[ "$(rc kaggle-from)" = 0 ] && err_has kaggle-from "cannot verify" && err_has kaggle-from "16 train + 4 test images of 10x10x3, 2 classes" \
    && pass "dogs-vs-cats --from: train.zip, unverified (warned), split 80/20" || fail "kaggle --from" "$(why kaggle-from)"

run folder "folder:$tmp/folder" --size 6 --test-frac 0.2 -o "$tmp/f.h5"
[ "$(rc folder)" = 0 ] && err_has folder "10 train + 2 test images of 6x6x3, 2 classes" && err_has folder "empty: no PNG or JPEG" \
    && pass "folder:PATH: a class per sub-folder, gray and RGB mixed, an empty one warned" || fail "folder" "$(why folder)"
h5check "folder classes are the sub-folder names" "$tmp/f.h5" "
print('ok' if list(f.attrs['class_names']) == ['circle', 'square'] and f.attrs['source'] == 'folder:$tmp/folder' else dict(f.attrs))"
run empty "folder:$tmp/emptyfolder" -o "$tmp/e.h5"
[ "$(rc empty)" = 1 ] && err_has empty "emptyfolder: no class folders" && [ ! -e "$tmp/e.h5" ] \
    && pass "an empty folder is an error" || fail "empty folder" "$(why empty)"

# ---- the real Fashion-MNIST of Debian's dataset-fashion-mnist ------------------------
fm=/usr/share/datasets/fashion-mnist
if [ ! -e "$fm/train-images-idx3-ubyte.gz" ]; then
    skip "Fashion-MNIST end to end" "$fm is not installed (Debian package dataset-fashion-mnist)"
else
    start=$(date +%s.%N)
    NN_DATASETS= NN_DATA_HOME=$tmp/fm-cache "$prog" fashion-mnist --mirror http://127.0.0.1:1/ -o "$tmp/fm.h5" 2>"$tmp/fm.err"
    st=$?
    secs=$(echo "$(date +%s.%N) $start" | awk '{ printf "%.1f", $1 - $2 }')
    echo "# fashion-mnist converted in $secs s"
    if [ $st = 0 ] && grep -q "60000 train + 10000 test images of 28x28x1, 10 classes" "$tmp/fm.err" \
       && [ -z "$(ls "$tmp/fm-cache" 2>/dev/null)" ]; then
        pass "Fashion-MNIST from $fm without network: 60000 + 10000 images, 10 classes ($secs s)"
    else
        fail "Fashion-MNIST" "status $st: $(tail -n 3 "$tmp/fm.err")"
    fi
    h5check "Fashion-MNIST reads as uint8 [60000,28,28,1], 10000 test labels, the files' first labels and pixels" "$tmp/fm.h5" "
import gzip
def raw(name, off): return np.frombuffer(gzip.open('$fm/' + name).read()[off:], np.uint8)
x = f['train/images']; y = f['train/labels'][:]; ty = f['test/labels'][:]
ok = (x.dtype == np.uint8 and x.shape == (60000, 28, 28, 1) and ty.shape == (10000,)
      and list(y[:10]) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5] and list(ty[:10]) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
      and (y == raw('train-labels-idx1-ubyte.gz', 8)).all() and (ty == raw('t10k-labels-idx1-ubyte.gz', 8)).all()
      and (x[:].ravel() == raw('train-images-idx3-ubyte.gz', 16)).all()
      and f.attrs['class_names'][0] == 'T-shirt/top' and abs(f.attrs['mean'][0] - 0.2860) < 1e-4)
print('ok' if ok else (x.shape, list(y[:10])))"
fi
exit $failed
