#!/usr/bin/python3
"""gen_layers.py - golden forward and backward passes of every layer type and
loss, computed by PyTorch, for test/test_golden_layers.c.

Regenerate (from the repository root; needs PyTorch, h5py and numpy, e.g.
Debian's python3-torch, python3-h5py and python3-numpy):

    /usr/bin/python3 test/golden/gen_layers.py test/golden/layers.h5

Each case is a tiny architecture text with one layer under test (a loss case
may put a dense layer before the loss). Inputs, parameters and upstream
gradients are seeded float32 values; PyTorch computes in float64 from them
and the results are stored as float32, so the references are exact to
float32 rounding. test/golden/layers.h5 holds one group per case:

    attributes  arch    the architecture text (as nn_model_from_arch reads it)
                mode    "train" or "eval" (nn_pass.train)
                layer   name of the layer the param_* / grad_* belong to
                        (only when the case has parameters)
    datasets    x       [N,C,H,W]  input
                y       [N,...]    output of the last layer
                dy      [N,...]    upstream gradient wrt y (layer cases)
                labels  [N] int32  class labels (loss xent)
                target  [N,K]      targets (loss mse, bce)
                loss    scalar     mean loss (loss cases)
                dx      [N,C,H,W]  gradient wrt x (through the loss in loss
                                   cases)
                param_P value of parameter P before the pass, PyTorch layout
                        (conv weight [O,I,kh,kw], dense weight [OUT,IN])
                grad_P  gradient wrt trainable parameter P
                after_running_mean, after_running_var
                        batch norm in train mode: running statistics after
                        the forward (PyTorch's update: unbiased variance)

TensorFlow SAME padding (extra row/column at the bottom/right) is done with
an explicit F.pad before the op; max pooling pads with -inf, and average
pooling divides a zero-padded window sum by the number of real inputs under
the window (padding never counts in the mean, also for explicit pad=N).
"""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

DT = torch.float64


def same_pads(size, k, s):
    """TensorFlow SAME: (before, after) padding of one spatial dimension."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def window_pads(h, w, kh, kw, sh, sw, pad):
    """F.pad order (left, right, top, bottom) for pad 'same', 'valid' or N."""
    if pad == "same":
        t, b = same_pads(h, kh, sh)
        l, r = same_pads(w, kw, sw)
        return (l, r, t, b)
    p = 0 if pad == "valid" else pad
    return (p, p, p, p)


def pad_option(pad):
    return "" if pad == "valid" else " pad=%s" % pad


def stride_option(sh, sw, default):
    if (sh, sw) == default:
        return ""
    return " stride=%d" % sh if sh == sw else " stride=%dx%d" % (sh, sw)


def shape_text(c, h, w):
    return "%d" % c if h == w == 1 else "%dx%dx%d" % (c, h, w)


# ---- the cases --------------------------------------------------------------
# Each maker returns a dict: arch, mode, n (batch), shape (c,h,w of the
# input), xkind (how x is drawn, see draw_x), params {name: (shape, scale) or
# a float32 array}, buffers (params without a gradient), layer (the name of
# the layer that owns the params), f(x, P, st) -> y (st collects the
# after_* datasets), and for loss cases loss(x, P, target), loss_kind, k.


def conv(c, h, w, out, kh, kw, sh=1, sw=1, pad="valid", bias=True, n=2):
    arch = "input %s\nconv %d %s%s%s%s" % (
        shape_text(c, h, w), out, "%dx%d" % (kh, kw),
        stride_option(sh, sw, (1, 1)), pad_option(pad),
        "" if bias else " bias=none")
    params = {"weight": ((out, c, kh, kw), 1 / np.sqrt(c * kh * kw))}
    if bias:
        params["bias"] = ((out,), 0.3)
    pads = window_pads(h, w, kh, kw, sh, sw, pad)

    def f(x, P, st):
        return F.conv2d(F.pad(x, pads), P["weight"], P.get("bias"),
                        stride=(sh, sw))
    return dict(arch=arch, mode="train", n=n, shape=(c, h, w), xkind="normal",
                params=params, layer="conv0", f=f)


def dense(inp, out, bias=True, flatten=None, n=3):
    if flatten:
        arch = "input %s\nflatten\ndense %d" % (shape_text(*flatten), out)
        shape, layer = flatten, "dense1"
    else:
        arch = "input %d\ndense %d" % (inp, out)
        shape, layer = (inp, 1, 1), "dense0"
    arch += "" if bias else " bias=none"
    params = {"weight": ((out, inp), 1 / np.sqrt(inp))}
    if bias:
        params["bias"] = ((out,), 0.3)

    def f(x, P, st):
        return F.linear(x.reshape(x.shape[0], -1), P["weight"],
                        P.get("bias")).reshape(x.shape[0], out, 1, 1)
    return dict(arch=arch, mode="train", n=n, shape=shape, xkind="normal",
                params=params, layer=layer, f=f)


def pool(kind, c, h, w, kh, kw, sh=None, sw=None, pad="valid", n=2):
    sh = kh if sh is None else sh
    sw = kw if sw is None else sw
    arch = "input %s\n%s %dx%d%s%s" % (
        shape_text(c, h, w), kind, kh, kw, stride_option(sh, sw, (kh, kw)),
        pad_option(pad))
    pads = window_pads(h, w, kh, kw, sh, sw, pad)

    def f(x, P, st):
        if kind == "maxpool":
            return F.max_pool2d(F.pad(x, pads, value=-np.inf), (kh, kw),
                                (sh, sw))
        # window sums over zero padding / number of real inputs per window
        total = F.avg_pool2d(F.pad(x, pads), (kh, kw), (sh, sw)) * (kh * kw)
        ones = torch.ones((1, 1, h, w), dtype=DT)
        count = F.avg_pool2d(F.pad(ones, pads), (kh, kw), (sh, sw)) * (kh * kw)
        return total / count
    # max pooling: distinct values, so no window has a tie
    return dict(arch=arch, mode="train", n=n, shape=(c, h, w),
                xkind="distinct" if kind == "maxpool" else "normal",
                params={}, f=f)


def simple(line, c, h, w, f, xkind="normal", mode="train", n=2):
    return dict(arch="input %s\n%s" % (shape_text(c, h, w), line), mode=mode,
                n=n, shape=(c, h, w), xkind=xkind, params={}, f=f)


def batchnorm(c, h, w, train, eps=1e-5, momentum=0.1, n=3):
    opts = ""
    if eps != 1e-5:
        opts += " eps=%g" % eps
    if momentum != 0.1:
        opts += " momentum=%g" % momentum
    params = {
        "gamma": np.float32(1 + 0.5 * np.random.randn(c)),
        "beta": np.float32(0.5 * np.random.randn(c)),
        "running_mean": np.float32(0.5 * np.random.randn(c)),
        "running_var": np.float32(0.5 + np.random.rand(c)),
    }

    def f(x, P, st):
        rm = P["running_mean"].detach().clone()
        rv = P["running_var"].detach().clone()
        y = F.batch_norm(x, rm, rv, P["gamma"], P["beta"], training=train,
                         momentum=momentum, eps=eps)
        if train:
            st["after_running_mean"] = rm
            st["after_running_var"] = rv
        return y
    # input offset from 0 and scaled, so the statistics are not trivial
    return dict(arch="input %s\nbatchnorm%s" % (shape_text(c, h, w), opts),
                mode="train" if train else "eval", n=n, shape=(c, h, w),
                xkind="shifted", params=params, buffers=("running_mean",
                                                         "running_var"),
                layer="batchnorm0", f=f)


def loss_case(kind, shape, layers="flatten", dense_out=None, xkind="normal",
              n=3):
    """A loss on the model output; layers are the lines before the loss."""
    c, h, w = shape
    arch = "input %s\n%s\nloss %s" % (shape_text(c, h, w), layers, kind)
    params, layer = {}, None
    k = c * h * w
    if dense_out:
        k = dense_out
        params = {"weight": ((dense_out, c), 1 / np.sqrt(c)),
                  "bias": ((dense_out,), 0.3)}
        layer = "dense0"
    fused = layers.endswith("softmax")

    def logits_of(x, P):
        z = x.reshape(x.shape[0], -1)
        if dense_out:
            z = F.linear(z, P["weight"], P["bias"])
        return z

    def f(x, P, st):
        z = logits_of(x, P)
        y = F.softmax(z, dim=1) if fused else z
        return y.reshape(x.shape[0], -1, 1, 1) if dense_out else \
            y.reshape(x.shape)

    def loss(x, P, t):
        z = logits_of(x, P)  # xent with a final softmax: on its input
        if kind == "xent":
            return F.cross_entropy(z, t)
        if kind == "mse":
            return F.mse_loss(z, t)
        return F.binary_cross_entropy_with_logits(z, t)
    return dict(arch=arch, mode="train", n=n, shape=shape, xkind=xkind,
                params=params, layer=layer, f=f, loss=loss, loss_kind=kind,
                k=k)


def leaky(x, P, st):
    return F.leaky_relu(x, 0.1)


def softmax_features(x, P, st):
    return F.softmax(x.reshape(x.shape[0], -1), dim=1).reshape(x.shape)


def cases():
    return {
        # conv
        "conv_3x3_same": conv(3, 6, 5, 4, 3, 3, pad="same"),
        # height 6: total pad 1 -> 0 top, 1 bottom; width 7: 1 and 1
        "conv_3x3_s2_same": conv(3, 6, 7, 4, 3, 3, 2, 2, pad="same"),
        "conv_5x5_valid": conv(2, 8, 7, 3, 5, 5),
        "conv_1x1": conv(5, 4, 3, 6, 1, 1, n=3),
        "conv_3x3_s2_pad1": conv(3, 7, 8, 4, 3, 3, 2, 2, pad=1),
        "conv_3x3_nobias": conv(3, 5, 5, 4, 3, 3, pad="same", bias=False),
        "conv_2x3_s1x2": conv(2, 6, 9, 3, 2, 3, 1, 2),
        # height: 0 top, 1 bottom; width 9, stride 2: 1 and 1
        "conv_2x3_s1x2_same": conv(2, 6, 9, 3, 2, 3, 1, 2, pad="same"),
        # dense
        "dense": dense(7, 5),
        "dense_nobias": dense(6, 4, bias=False),
        "dense_after_flatten": dense(12, 4, flatten=(2, 3, 2)),
        # max pooling
        "maxpool_2x2_s2": pool("maxpool", 3, 7, 8, 2, 2),
        "maxpool_2x2_s2_same": pool("maxpool", 2, 7, 5, 2, 2, pad="same"),
        "maxpool_3x3_s2_same": pool("maxpool", 2, 6, 7, 3, 3, 2, 2, "same"),
        "maxpool_3x3_s1_pad1": pool("maxpool", 2, 5, 6, 3, 3, 1, 1, 1),
        # average pooling (padding excluded from the mean)
        "avgpool_2x2_s2": pool("avgpool", 3, 7, 8, 2, 2),
        "avgpool_2x2_s2_same": pool("avgpool", 2, 7, 5, 2, 2, pad="same"),
        "avgpool_3x3_s2_same": pool("avgpool", 2, 6, 7, 3, 3, 2, 2, "same"),
        "avgpool_3x3_s1_pad1": pool("avgpool", 2, 5, 6, 3, 3, 1, 1, 1),
        # shape and activation layers
        "gap": simple("gap", 3, 4, 5,
                      lambda x, P, st: x.mean(dim=(2, 3), keepdim=True)),
        "flatten": simple("flatten", 2, 3, 4,
                          lambda x, P, st: x.reshape(x.shape[0], -1, 1, 1)),
        "relu": simple("relu", 3, 4, 5, lambda x, P, st: F.relu(x),
                       xkind="away0"),
        "leakyrelu": simple("leakyrelu 0.1", 3, 4, 5, leaky, xkind="away0"),
        "sigmoid": simple("sigmoid", 3, 4, 5,
                          lambda x, P, st: torch.sigmoid(x), xkind="wide"),
        "tanh": simple("tanh", 3, 4, 5, lambda x, P, st: torch.tanh(x),
                       xkind="wide"),
        "dropout_eval": simple("dropout 0.3", 3, 4, 5, lambda x, P, st: x,
                               mode="eval"),
        "softmax": simple("softmax", 6, 1, 1, softmax_features, xkind="wide",
                          n=3),
        "softmax_chw": simple("softmax", 2, 2, 3, softmax_features,
                              xkind="wide"),
        # batch norm: after conv (per channel) and after dense (per feature)
        "batchnorm_conv_train": batchnorm(3, 4, 5, True),
        "batchnorm_conv_eval": batchnorm(3, 4, 5, False),
        "batchnorm_dense_train": batchnorm(6, 1, 1, True),
        "batchnorm_dense_eval": batchnorm(6, 1, 1, False),
        "batchnorm_conv_train_opts": batchnorm(2, 3, 3, True, eps=1e-3,
                                               momentum=0.25, n=2),
        # losses
        "loss_xent": loss_case("xent", (5, 1, 1), xkind="extreme"),
        "loss_xent_fused": loss_case("xent", (4, 1, 1),
                                     "dense 5\nsoftmax", dense_out=5),
        "loss_mse": loss_case("mse", (2, 2, 2)),
        "loss_mse_dense": loss_case("mse", (4, 1, 1), "dense 3",
                                    dense_out=3),
        "loss_bce": loss_case("bce", (6, 1, 1), xkind="extreme"),
    }


# ---- computing and writing ----------------------------------------------------


def draw_x(kind, shape, rng):
    n = int(np.prod(shape))
    if kind == "distinct":  # a shuffled ramp: gaps of 4/n between any two
        return ((rng.permutation(n) - n / 2) * (4.0 / n)).reshape(shape)
    z = rng.standard_normal(shape)
    if kind == "away0":  # at least 0.05 from the kink at 0
        return np.sign(z) * (0.05 + np.abs(z))
    if kind == "wide":
        return 2.5 * z
    if kind == "shifted":
        return 1.5 * z + 0.7
    if kind == "extreme":  # logits where a naive loss overflows
        z = 2.5 * z
        z.flat[0], z.flat[1] = 30.0, -30.0
    return z


def draw_target(kind, n, k, rng):
    if kind == "xent":
        labels = rng.integers(0, k, size=n).astype(np.int32)
        return labels, torch.from_numpy(labels.astype(np.int64))
    if kind == "mse":
        t = np.float32(rng.standard_normal((n, k)))
    else:  # hard and soft targets in [0, 1]
        t = np.float32(rng.random((n, k)))
        t[0, : k // 2] = np.round(t[0, : k // 2])
    return t, torch.from_numpy(t.astype(np.float64))


def run_case(c, rng):
    n = c["n"]
    x32 = np.float32(draw_x(c["xkind"], (n,) + tuple(c["shape"]), rng))
    P32, P = {}, {}
    for name, spec in c["params"].items():
        if isinstance(spec, np.ndarray):
            v = spec
        else:
            shape, scale = spec
            v = np.float32(scale * rng.standard_normal(shape))
        P32[name] = v
        t = torch.from_numpy(v.astype(np.float64))
        if name not in c.get("buffers", ()):
            t.requires_grad_(True)
        P[name] = t
    x = torch.from_numpy(x32.astype(np.float64)).requires_grad_(True)
    st = {}
    y = c["f"](x, P, st)
    out = {"x": x32, "y": y}
    if "loss" in c:
        t32, t = draw_target(c["loss_kind"], n, c["k"], rng)
        out["labels" if c["loss_kind"] == "xent" else "target"] = t32
        loss = c["loss"](x, P, t)
        loss.backward()
        out["loss"] = np.float32(loss.item())
    else:
        dy32 = np.float32(rng.standard_normal(tuple(y.shape)))
        out["dy"] = dy32
        y.backward(torch.from_numpy(dy32.astype(np.float64)))
    out["dx"] = x.grad
    for name, v in P32.items():
        out["param_" + name] = v
        if P[name].requires_grad:
            out["grad_" + name] = P[name].grad
    for name, v in st.items():
        out[name] = v
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "test/golden/layers.h5"
    torch.manual_seed(20261124)
    np.random.seed(20261124)  # batch-norm parameters in the table
    rng = np.random.default_rng(20261124)
    table = cases()
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    # no modification times in groups either: a rerun is byte-identical
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)  # the root group's
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl,
                          fapl=fapl)
    with h5py.File(fid) as f:
        f.attrs["generator"] = "test/golden/gen_layers.py, torch %s" % \
            torch.__version__
        for name, c in table.items():
            g = h5py.Group(h5py.h5g.create(f.id, name.encode(), gcpl=gcpl))
            g.attrs["arch"] = c["arch"]
            g.attrs["mode"] = c["mode"]
            if c.get("layer"):
                g.attrs["layer"] = c["layer"]
            for key, v in run_case(c, rng).items():
                if isinstance(v, torch.Tensor):
                    v = v.detach().numpy()
                v = np.asarray(v)
                if v.dtype != np.int32:
                    v = v.astype(np.float32)
                g.create_dataset(key, data=v, dcpl=dcpl, track_times=False)


if __name__ == "__main__":
    main()
