#!/usr/bin/python3
"""gen_keras.py - Keras weight files of a reduced VGG-16 with seeded weights,
and PyTorch's forward of the same network, for test/test_keras.c and
test/cli/vgg16.sh (nn-fetch-data's conversion must give PyTorch's outputs).

Regenerate (from the repository root; needs PyTorch, h5py and numpy, e.g.
Debian's python3-torch, python3-h5py and python3-numpy):

    /usr/bin/python3 test/golden/gen_keras.py test/golden

The network is VGG-16 as Keras's applications/vgg16.py builds it, with
fewer channels and a smaller input: five blocks of 3x3 'same' convs with
ReLU (2, 2, 3, 3, 3 convs of 4, 8, 8, 16, 16 filters), each ended by a 2x2
max pool, then Flatten, Dense 32 + ReLU, Dense 32 + ReLU, Dense 10 +
softmax, on 64x96 RGB inputs (the last map is 2x3x16, so the order in which
Flatten reads it matters). The files are written with h5py the way Keras's
save_weights writes them (it is not installed here):

  keras_small.h5     Keras 2 names: layer_names (fixed-length byte strings,
                     input_1 ... predictions, pools and flatten included),
                     weight_names per layer (an empty float64 array for the
                     layers without weights, as h5py stores Keras's []),
                     datasets LAYER/LAYER/kernel:0 [kh,kw,in,out] and
                     LAYER/LAYER/bias:0
  keras1_notop.h5    the same conv weights as Keras 1 wrote a notop file:
                     weight_names LAYER_W_1:0 and LAYER_b_1:0, no classifier
  keras_golden.h5    images [N,64,96,3] uint8 (RGB); x [N,64,96,3] float32,
                     Keras's 'caffe' preprocessing of them (BGR, minus the
                     ImageNet means, no scaling), HWC; pool5 [N,2,3,16]
                     float32, the output of block5_pool (HWC); logits
                     [N,10] and probs [N,10] float32, the last Dense layer's
                     output before and after the softmax

PyTorch computes in float64 on the float32 weights, reading the kernels in
Keras's layout (HWIO; [in,out]) and flattening the HWC map as Keras does,
so nothing of nn's conversion is assumed.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

H, W, N = 64, 96, 5
BLOCKS = [(2, 4), (2, 8), (3, 8), (3, 16), (3, 16)]  # (convs, filters)
DENSE = [("fc1", 32), ("fc2", 32), ("predictions", 10)]
MEAN_BGR = np.array([103.939, 116.779, 123.68])


def layers():
    """Keras's layer names in order, and the shapes of those with weights."""
    names, shapes, cin = ["input_1"], {}, 3
    for b, (convs, filters) in enumerate(BLOCKS, 1):
        for k in range(1, convs + 1):
            name = "block%d_conv%d" % (b, k)
            names.append(name)
            shapes[name] = [(3, 3, cin, filters), (filters,)]
            cin = filters
        names.append("block%d_pool" % b)
    names.append("flatten")
    fin = (H >> 5) * (W >> 5) * cin
    for name, units in DENSE:
        names.append(name)
        shapes[name] = [(fin, units), (units,)]
        fin = units
    return names, shapes


def params(rng, shapes):
    """He-normal kernels and small biases, float32."""
    p = {}
    for name, (k, b) in shapes.items():
        fan_in = int(np.prod(k[:-1]))
        scale = np.sqrt(2.0 / fan_in) * (0.05 if name == "predictions" else 1.0)
        p[name] = [(rng.standard_normal(k) * scale).astype(np.float32),
                   (rng.standard_normal(b) * 0.1).astype(np.float32)]
    return p


def forward(images, p):
    """Keras's VGG on images [N,H,W,3] uint8: x, pool5, logits, probs."""
    t = lambda a: torch.tensor(a, dtype=torch.float64)
    x = t(images[..., ::-1].copy()) - t(MEAN_BGR)          # caffe: BGR, minus the means
    x_in = x.numpy().astype(np.float32)
    x = x.permute(0, 3, 1, 2)                               # NHWC -> NCHW for torch
    for b, (convs, _) in enumerate(BLOCKS, 1):
        for k in range(1, convs + 1):
            kern, bias = p["block%d_conv%d" % (b, k)]
            x = F.relu(F.conv2d(x, t(kern).permute(3, 2, 0, 1), t(bias), padding=1))
        x = F.max_pool2d(x, 2)
    pool5 = x.permute(0, 2, 3, 1)                           # HWC, as Keras holds it
    x = pool5.reshape(x.shape[0], -1)                       # Keras's Flatten: h, w, c
    for i, (name, _) in enumerate(DENSE):
        kern, bias = p[name]
        x = x @ t(kern) + t(bias)
        if i < len(DENSE) - 1:
            x = F.relu(x)
    f32 = lambda a: a.numpy().astype(np.float32)
    return x_in, f32(pool5), f32(x), f32(torch.softmax(x, dim=1))


def write_keras(path, names, p, keras1=False, notop=False):
    """names' weights in the layout of Keras's save_weights."""
    if notop:
        names = names[:names.index("flatten")]
    with h5py.File(path, "w") as f:
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"1.2.2" if keras1 else b"2.2.4"
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            g = f.create_group(name)
            if name not in p:
                g.attrs["weight_names"] = np.array([])
                continue
            if keras1:
                wn = ["%s_W_1:0" % name, "%s_b_1:0" % name]
            else:
                wn = ["%s/kernel:0" % name, "%s/bias:0" % name]
            g.attrs["weight_names"] = np.array([w.encode() for w in wn])
            for w, v in zip(wn, p[name]):
                g.create_dataset(w, data=v)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_keras.py DIR")
    out = sys.argv[1]
    rng = np.random.default_rng(20261124)
    names, shapes = layers()
    p = params(rng, shapes)
    images = rng.integers(0, 256, (N, H, W, 3), dtype=np.uint8)
    images[0] = 0                                           # the extremes of the range
    images[1] = 255
    yy, xx = np.mgrid[0:H, 0:W]                             # a smooth, asymmetric one
    images[2] = np.stack([xx * 255 // (W - 1), yy * 255 // (H - 1),
                          (xx + yy) * 255 // (H + W - 2)], -1).astype(np.uint8)
    x, pool5, logits, probs = forward(images, p)
    write_keras(os.path.join(out, "keras_small.h5"), names, p)
    write_keras(os.path.join(out, "keras1_notop.h5"), names, p, keras1=True, notop=True)
    with h5py.File(os.path.join(out, "keras_golden.h5"), "w") as f:
        for k, v in (("images", images), ("x", x), ("pool5", pool5), ("logits", logits),
                     ("probs", probs)):
            f.create_dataset(k, data=v)
    print("%s: %d images; logits in [%.3g, %.3g], max probability %.4f" %
          (out, N, logits.min(), logits.max(), probs.max()))


if __name__ == "__main__":
    main()
