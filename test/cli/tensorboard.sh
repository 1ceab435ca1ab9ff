# tensorboard.sh - event files written by libnn load in TensorBoard itself
# (the tensorboard package from PyPI): runs train and test with the scalars
# loss and accuracy at the written steps and values, a histogram, an image
# and the graph, every record accepted (as many events as records) and no
# warning from TensorBoard's loaders. Skipped when tensorboard is not
# importable.
. test/cli/lib.sh
name="tensorboard: TensorBoard loads the scalars, histogram, image and graph"
py=
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import tensorboard' >/dev/null 2>&1; then
        py=$p
        break
    fi
done
if [ -z "$py" ]; then
    skip "$name" "the python package tensorboard is not installed (pip install tensorboard)"
    skip "tensorboard: its data server checksums every record and serves the same data" "no tensorboard"
    exit 0
fi
if ! "$NN_BUILD/test/test_tensorboard" write "$tmp/logs" >"$tmp/out" 2>&1; then
    fail "$name" "writing the event files failed: $(cat "$tmp/out")"
    exit 1
fi
if "$py" - "$tmp/logs" >"$tmp/out" 2>&1 <<'EOF'; then pass "$name"; else fail "$name" "$(tail -n 30 "$tmp/out")"; fi
import glob, logging, math, os, re, struct, sys

logdir = sys.argv[1]

# Every log record of TensorBoard's loaders; a warning, or a debug note
# about a truncated or corrupt record, is a failure.
class Keep(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []
    def emit(self, r):
        self.records.append(r)
keep = Keep()
root = logging.getLogger()
root.addHandler(keep)
root.setLevel(logging.DEBUG)

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.compat.proto import event_pb2

errors = []
def check(cond, what):
    if not cond:
        errors.append(what)

# A crash prints the failures found before it, then the traceback.
def crashed(kind, value, tb, hook=sys.excepthook):
    print("\n".join(errors))
    hook(kind, value, tb)
sys.excepthook = crashed

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]

# All records of a file by their length fields alone (no CRC), to compare
# with what TensorBoard's checked reader yields.
def count_records(path):
    n = 0
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack("<Q", data[pos:pos + 8])
        pos += 12 + length + 4
        n += 1
    check(pos == len(data), "%s: %d stray bytes" % (path, len(data) - pos))
    return n

for run in ("train", "test"):
    files = glob.glob(os.path.join(logdir, run, "events.out.tfevents.*"))
    check(len(files) == 1, "%s: %d event files" % (run, len(files)))
    for path in files:
        check(re.fullmatch(r"events\.out\.tfevents\.\d+\.[^/]+", os.path.basename(path)),
              "file name " + path)
        nrec = count_records(path)
        raw = list(event_file_loader.RawEventFileLoader(path).Load())
        check(len(raw) == nrec and nrec > 1,
              "%s: TensorBoard read %d records of %d" % (path, len(raw), nrec))
        events = [event_pb2.Event.FromString(r) for r in raw]
        check(events and events[0].file_version == "brain.Event:2", "file_version")
        check(all(e.wall_time > 1.5e9 for e in events), "wall times")

keep_all = {ea.SCALARS: 0, ea.HISTOGRAMS: 0, ea.IMAGES: 0, ea.GRAPH: 0,
            ea.COMPRESSED_HISTOGRAMS: 0, ea.TENSORS: 0}
acc = {}
for run in ("train", "test"):
    a = ea.EventAccumulator(os.path.join(logdir, run), size_guidance=keep_all)
    a.Reload()
    acc[run] = a

def scalars(run, tag, steps, fn):
    try:
        ev = acc[run].Scalars(tag)
    except KeyError:
        return check(False, "%s: no scalar %s" % (run, tag))
    got = [(e.step, e.value) for e in ev]
    want = [(s, f32(fn(s))) for s in steps]
    check(len(got) == len(want) and all(g[0] == w[0] and abs(g[1] - w[1]) <= 1e-6 * abs(w[1]) + 1e-7
                                        for g, w in zip(got, want)),
          "%s %s: got %s, want %s" % (run, tag, got, want))
    check(all(e.wall_time > 1.5e9 for e in ev), "%s %s: wall times" % (run, tag))

tags = acc["train"].Tags()
check(sorted(tags["scalars"]) == ["accuracy", "loss"], "train scalar tags %s" % tags["scalars"])
check(tags["histograms"] == ["conv1_1/weight"], "histogram tags %s" % tags["histograms"])
check(tags["images"] == ["conv1_1/filters"], "image tags %s" % tags["images"])
check(tags["graph"] is True, "train has no graph")
tt = acc["test"].Tags()
check(sorted(tt["scalars"]) == ["accuracy", "loss"] and tt["graph"] is False,
      "test tags %s" % tt)

train_steps = range(0, 100, 10)
test_steps = range(0, 100, 30)
scalars("train", "loss", train_steps, lambda s: 2.5 * math.exp(-s / 40.0))
scalars("train", "accuracy", train_steps, lambda s: 1 - 0.9 * math.exp(-s / 30.0))
scalars("test", "loss", test_steps, lambda s: 2.7 * math.exp(-s / 50.0))
scalars("test", "accuracy", test_steps, lambda s: 1 - 0.95 * math.exp(-s / 45.0))

# The histogram: the statistics of the finite values, and buckets read the
# way TensorBoard does (left edges min, limit[:-1]; right edges limit[:-1],
# max) that count exactly the values inside them.
hs = acc["train"].Histograms("conv1_1/weight")
check([h.step for h in hs] == [0, 50], "histogram steps %s" % [h.step for h in hs])
for h in hs:
    v = [f32(math.sin(0.37 * i) * (1 + h.step / 50.0)) for i in range(1000)]
    hv = h.histogram_value
    check(hv.num == 1000 and hv.min == min(v) and hv.max == max(v),
          "histogram %d: num %g min %g max %g" % (h.step, hv.num, hv.min, hv.max))
    check(abs(hv.sum - sum(v)) < 1e-9 and abs(hv.sum_squares - sum(x * x for x in v)) < 1e-9,
          "histogram %d: sum %g sum_squares %g" % (h.step, hv.sum, hv.sum_squares))
    lim, cnt = list(hv.bucket_limit), list(hv.bucket)
    check(len(lim) == len(cnt) and sum(cnt) == 1000, "histogram %d: bucket counts" % h.step)
    lefts = [hv.min] + lim[:-1]
    rights = lim[:-1] + [hv.max]
    for i, (l, r, c) in enumerate(zip(lefts, rights, cnt)):
        n = sum(1 for x in v if l <= x < r or (i == len(cnt) - 1 and x == r))
        if n != c:
            check(False, "histogram %d: bucket %d [%g, %g) holds %d values, says %g" %
                  (h.step, i, l, r, n, c))
            break

# What the histogram plugin serves: the legacy proto migrated to [k, 3]
# (left, right, count) tensors.
mux = plugin_event_multiplexer.EventMultiplexer(size_guidance=keep_all)
mux.AddRunsFromDirectory(logdir)
mux.Reload()
check(sorted(mux.Runs()) == ["test", "train"], "runs %s" % sorted(mux.Runs()))
ht = mux.Tensors("train", "conv1_1/weight")
check(len(ht) == 2, "plugin histogram events %d" % len(ht))
from tensorboard.util import tensor_util
for t in ht:
    arr = tensor_util.make_ndarray(t.tensor_proto)
    check(arr.ndim == 2 and arr.shape[1] == 3 and arr[:, 2].sum() == 1000,
          "plugin histogram %d: shape %s" % (t.step, arr.shape))
st = mux.Tensors("test", "loss")
check([t.step for t in st] == list(test_steps), "plugin scalars test/loss")

# The image: a PNG of 24 x 16 RGB, pixels as written.
ims = acc["train"].Images("conv1_1/filters")
check(len(ims) == 1 and ims[0].step == 5 and ims[0].width == 24 and ims[0].height == 16,
      "image events %s" % [(i.step, i.width, i.height) for i in ims])
if ims:
    png = ims[0].encoded_image_string
    check(png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (24, 16),
          "image is not a 24x16 PNG")
    try:
        import io
        from PIL import Image
        im = Image.open(io.BytesIO(png)).convert("RGB")
        want = bytes(c for y in range(16) for x in range(24)
                     for c in (x * 255 // 23, y * 255 // 15, 79))
        check(im.tobytes() == want, "image pixels differ")
    except ImportError:
        pass

# The graph: input, then one node per layer in its name scope, chained.
g = acc["train"].Graph()
names = [n.name for n in g.node]
want = ["input", "conv1_1/conv", "relu1_1/relu", "pool1/maxpool", "flatten3/flatten",
        "fc/dense", "softmax5/softmax"]
check(names == want, "graph nodes %s" % names)
check([list(n.input) for n in g.node] == [[]] + [[w] for w in want[:-1]],
      "graph inputs %s" % [list(n.input) for n in g.node])
check(g.node[0].op == "Placeholder" and g.node[1].op == "conv", "graph ops")
shapes = {n.name: [d.size for d in n.attr["_output_shapes"].list.shape[0].dim] for n in g.node
          if "_output_shapes" in n.attr}
check(shapes.get("input") == [-1, 3, 16, 16] and shapes.get("conv1_1/conv") == [-1, 8, 16, 16]
      and shapes.get("pool1/maxpool") == [-1, 8, 8, 8] and shapes.get("fc/dense") == [-1, 10],
      "output shapes %s" % shapes)
check([d.size for d in g.node[1].attr["weight"].shape.dim] == [8, 3, 3, 3],
      "conv weight shape attr")

bad = [r for r in keep.records if r.name.startswith("tensorboard") and
       (r.levelno >= logging.WARNING or
        re.search(r"truncat|corrupt|crc|data ?loss", r.getMessage(), re.I))]
for r in bad:
    check(False, "TensorBoard logged %s: %s" % (r.levelname, r.getMessage()))
if errors:
    print("\n".join(errors))
    sys.exit(1)
EOF

# The same files through TensorBoard's fast loader, the data server
# (rustboard, a separate reader), with every record checksummed.
name="tensorboard: its data server checksums every record and serves the same data"
if ! "$py" -c 'import tensorboard_data_server, grpc; assert tensorboard_data_server.server_binary()' >/dev/null 2>&1; then
    skip "$name" "tensorboard's data server is not installed"
    exit $failed
fi
if "$py" - "$tmp/logs" "$tmp/port" "$tmp/server.log" >"$tmp/out" 2>&1 <<'EOF'; then pass "$name"; else fail "$name" "$(tail -n 30 "$tmp/out")"; fi
import math, os, struct, subprocess, sys, time
import grpc, tensorboard_data_server
from tensorboard import context
from tensorboard.data import grpc_provider

logdir, port_file, log_file = sys.argv[1:4]
errors = []
def check(cond, what):
    if not cond:
        errors.append(what)
def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]

log = open(log_file, "w")
srv = subprocess.Popen([tensorboard_data_server.server_binary(), "--logdir", logdir,
                        "--port", "0", "--port-file", port_file, "--reload", "once",
                        "--checksum", "--die-after-stdin", "-v"],
                       stdin=subprocess.PIPE, stdout=log, stderr=log)
try:
    deadline = time.time() + 30
    while time.time() < deadline:
        text = open(log_file).read()
        if "Finished load cycle" in text and os.path.exists(port_file) and \
           open(port_file).read().strip():
            break
        time.sleep(0.1)
    else:
        sys.exit("the data server did not finish loading:\n" + open(log_file).read())
    addr = "localhost:%d" % int(open(port_file).read())
    prov = grpc_provider.GrpcDataProvider(addr, grpc_provider.make_stub(grpc.insecure_channel(addr)))
    ctx = context.RequestContext()
    runs = sorted(r.run_name for r in prov.list_runs(ctx, experiment_id=""))
    check(runs == ["test", "train"], "runs %s" % runs)
    sc = prov.read_scalars(ctx, experiment_id="", plugin_name="scalars", downsample=1000)
    want = {("train", "loss"): (range(0, 100, 10), lambda s: 2.5 * math.exp(-s / 40.0)),
            ("train", "accuracy"): (range(0, 100, 10), lambda s: 1 - 0.9 * math.exp(-s / 30.0)),
            ("test", "loss"): (range(0, 100, 30), lambda s: 2.7 * math.exp(-s / 50.0)),
            ("test", "accuracy"): (range(0, 100, 30), lambda s: 1 - 0.95 * math.exp(-s / 45.0))}
    for (run, tag), (steps, fn) in want.items():
        got = [(d.step, d.value) for d in sc.get(run, {}).get(tag, [])]
        ok = [s for s, _ in got] == list(steps) and \
             all(abs(v - f32(fn(s))) <= 1e-6 * abs(f32(fn(s))) + 1e-7 for s, v in got)
        check(ok, "%s %s: %s" % (run, tag, got))
    hs = prov.read_tensors(ctx, experiment_id="", plugin_name="histograms", downsample=1000)
    h = hs.get("train", {}).get("conv1_1/weight", [])
    check([d.step for d in h] == [0, 50], "histogram steps %s" % [d.step for d in h])
    for d in h:
        a = d.numpy
        check(a.ndim == 2 and a.shape[1] == 3 and a[:, 2].sum() == 1000,
              "histogram %d: %s" % (d.step, a.shape))
    ims = prov.list_blob_sequences(ctx, experiment_id="", plugin_name="images")
    check("conv1_1/filters" in ims.get("train", {}), "images %s" % ims)
    gr = prov.list_blob_sequences(ctx, experiment_id="", plugin_name="graphs")
    check("train" in gr and "test" not in gr, "graphs %s" % gr)
finally:
    srv.stdin.close()
    srv.wait(timeout=30)
    log.close()
for line in open(log_file):
    if " WARN " in line or " ERROR " in line:
        errors.append("data server: " + line.strip())
if errors:
    print("\n".join(errors))
    sys.exit(1)
EOF
exit $failed
