#!/usr/bin/python3
"""gen_eval.py - a small model file written from outside nn, and PyTorch's
class probabilities for a few images, for test/test_eval.c and
test/cli/eval.sh (nn-eval's predictions must equal them).

Regenerate (from the repository root; needs PyTorch, h5py and numpy, e.g.
Debian's python3-torch, python3-h5py and python3-numpy):

    /usr/bin/python3 test/golden/gen_eval.py test/golden/eval_model.h5 \\
        test/golden/eval.h5

The model file follows man 5 nn-model (written here with h5py, so the test
also checks that nn reads a model it did not write): the architecture ARCH
below with seeded parameters and batch-norm running statistics, the class
names, a per-channel normalisation and channel_order bgr (the images' R, G,
B feed the model's channels 2, 1, 0). PyTorch runs the same network in eval
mode (dropout off, batch norm on the running statistics) in float64 on the
float32 parameters.

test/golden/eval.h5 holds

    images  [N, 12, 10, 3] uint8    RGB images of the model's input size
                                    (nothing to resize: PyTorch's bicubic
                                    is not nn's)
    probs   [N, 4] float32          PyTorch's softmax output for each
"""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

ARCH = """\
# the golden model of test/test_eval.c (test/golden/gen_eval.py)
input 3x12x10
conv 5 3x3 pad=same name=c1
batchnorm
leakyrelu 0.1
maxpool 2x2
conv 6 3x3 stride=2 pad=1
relu
dropout 0.4
flatten
dense 8
tanh
dense classes
softmax
loss xent
"""
# (keyword, name) of each layer, in order: the /layers/NNN groups
LAYERS = [("conv", "c1"), ("batchnorm", "batchnorm1"), ("leakyrelu", "leakyrelu2"),
          ("maxpool", "maxpool3"), ("conv", "conv4"), ("relu", "relu5"),
          ("dropout", "dropout6"), ("flatten", "flatten7"), ("dense", "dense8"),
          ("tanh", "tanh9"), ("dense", "dense10"), ("softmax", "softmax11")]
CLASSES = ["ant", "bee", "cat", "dog"]
MEAN = np.array([0.4, 0.5, 0.6], np.float32)  # of the model's channels 0, 1, 2
STD = np.array([0.2, 0.25, 0.3], np.float32)
N, H, W = 6, 12, 10


def params(rng):
    """Seeded float32 parameters, PyTorch layouts, keyed by layer index."""
    def normal(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)
    return {
        0: {"weight": normal((5, 3, 3, 3), 0.4), "bias": normal((5,), 0.1)},
        1: {"gamma": (1 + normal((5,), 0.2)), "beta": normal((5,), 0.2),
            "running_mean": normal((5,), 0.3),
            "running_var": rng.uniform(0.5, 2.0, 5).astype(np.float32)},
        4: {"weight": normal((6, 5, 3, 3), 0.3), "bias": normal((6,), 0.1)},
        8: {"weight": normal((8, 54), 0.3), "bias": normal((8,), 0.1)},
        10: {"weight": normal((4, 8), 0.8), "bias": normal((4,), 0.2)},
    }


def forward(images, p):
    """The network in eval mode, float64: images [N,H,W,3] uint8 -> [N,4]."""
    t = lambda a: torch.tensor(a, dtype=torch.float64)
    u = t(images).permute(0, 3, 1, 2) / 255.0   # [N,3,H,W], RGB
    u = u[:, [2, 1, 0]]                          # bgr: model channel c = image channel 2-c
    x = (u - t(MEAN).view(1, 3, 1, 1)) / t(STD).view(1, 3, 1, 1)
    x = F.conv2d(x, t(p[0]["weight"]), t(p[0]["bias"]), padding=1)  # same, 3x3
    bn = p[1]
    x = F.batch_norm(x, t(bn["running_mean"]), t(bn["running_var"]), t(bn["gamma"]),
                     t(bn["beta"]), training=False, eps=1e-5)
    x = F.leaky_relu(x, 0.1)
    x = F.max_pool2d(x, 2)
    x = F.conv2d(x, t(p[4]["weight"]), t(p[4]["bias"]), stride=2, padding=1)
    x = F.relu(x)                                # dropout: identity in eval mode
    x = torch.flatten(x, 1)
    x = torch.tanh(F.linear(x, t(p[8]["weight"]), t(p[8]["bias"])))
    x = F.linear(x, t(p[10]["weight"]), t(p[10]["bias"]))
    return torch.softmax(x, dim=1).numpy().astype(np.float32)


def write_model(path, p):
    with h5py.File(path, "w") as f:
        a = f.attrs
        a["format"] = "nn-model"
        a["version"] = np.int32(1)
        a["architecture"] = ARCH
        a["input"] = np.array([3, H, W], np.int32)
        a["classes"] = np.int32(len(CLASSES))
        a.create("class_names", CLASSES, dtype=h5py.string_dtype())
        a["loss"] = "xent"
        a["input_mean"] = MEAN
        a["input_std"] = STD
        a["channel_order"] = "bgr"
        layers = f.create_group("layers")
        for i, (kind, name) in enumerate(LAYERS):
            g = layers.create_group("%03d" % i)
            g.attrs["name"] = name
            g.attrs["type"] = kind
            for pname, v in p.get(i, {}).items():
                g.create_dataset(pname, data=v)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen_eval.py MODEL.h5 GOLDEN.h5")
    rng = np.random.default_rng(20261124)
    p = params(rng)
    images = rng.integers(0, 256, (N, H, W, 3), dtype=np.uint8)
    images[0] = 0                                # the extremes of the range
    images[1] = 255
    probs = forward(images, p)
    write_model(sys.argv[1], p)
    with h5py.File(sys.argv[2], "w") as f:
        f.create_dataset("images", data=images)
        f.create_dataset("probs", data=probs)
    print("%s, %s: %d images, max probability %.4f, min %.4g" %
          (sys.argv[1], sys.argv[2], N, probs.max(), probs.min()))


if __name__ == "__main__":
    main()
