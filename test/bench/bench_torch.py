"""bench_torch.py - the same measurement as bench.c, in PyTorch, on the
network built from the same architecture file.

    python3 bench_torch.py ARCH.nn CxHxW BATCH train|infer|vis THREADS [SECONDS [DEVICE]]

Prints one TSV line: images/s (median of timed windows after a warm-up) and
the process's peak resident memory in MiB. DEVICE cuda: on the GPU with
cuDNN (its autotuner on, float32 without TF32, as nn), timed after a
synchronize, and the memory is the peak the allocator held."""
import math
import resource
import sys
import time
import warnings

import torch
import torch.nn as tnn
import torch.nn.functional as F

warnings.filterwarnings("ignore", message="Lazy modules")


class SamePad(tnn.Module):
    """TensorFlow SAME padding (extra row/column at the bottom/right)."""

    def __init__(self, k, s, value=0.0):
        super().__init__()
        self.k, self.s, self.value = k, s, value

    def forward(self, x):
        pads = []
        for d, (k, s) in enumerate(zip(self.k, self.s)):
            n = x.shape[2 + d]
            out = (n + s - 1) // s
            total = max((out - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        (t, b), (l, r) = pads
        if t == b == l == r == 0:
            return x
        return F.pad(x, (l, r, t, b), value=self.value)


def pair(text):
    a = text.split("x")
    return (int(a[0]), int(a[-1]))


def build(path, inp, classes):
    """nn.Sequential equal to the architecture file; dense layers are lazy
    (their input size comes from a dry run), a final softmax is left to the
    loss (cross_entropy on logits, as nn fuses it)."""
    c, flat, layers = inp[0], False, []
    for raw in open(path):
        words = raw.split("#")[0].split()
        if not words or words[0] in ("input", "loss", "softmax"):
            continue
        kw, pos = words[0], [x for x in words[1:] if "=" not in x]
        opt = dict(x.split("=", 1) for x in words[1:] if "=" in x)
        bias = opt.get("bias", "0") != "none"
        if kw == "conv":
            o, k, s = int(pos[0]), pair(pos[1]), pair(opt.get("stride", "1"))
            pad = opt.get("pad", "valid")
            if pad == "same" and s == (1, 1) and k[0] % 2 and k[1] % 2:
                layers.append(tnn.Conv2d(c, o, k, s, padding=(k[0] // 2, k[1] // 2), bias=bias))
            else:
                if pad == "same":
                    layers.append(SamePad(k, s))
                p = int(pad) if pad not in ("same", "valid") else 0
                layers.append(tnn.Conv2d(c, o, k, s, padding=p, bias=bias))
            c = o
        elif kw in ("maxpool", "avgpool"):
            k, s = pair(pos[0]), pair(opt.get("stride", pos[0]))
            pad = opt.get("pad", "valid")
            if pad == "same":
                layers.append(SamePad(k, s, -math.inf if kw == "maxpool" else 0.0))
            p = int(pad) if pad not in ("same", "valid") else 0
            layers.append(tnn.MaxPool2d(k, s, p) if kw == "maxpool" else tnn.AvgPool2d(k, s, p))
        elif kw == "dense":
            c = classes if pos[0] == "classes" else int(pos[0])
            layers.append(tnn.LazyLinear(c, bias=bias))
            flat = True
        elif kw == "flatten":
            layers.append(tnn.Flatten())
            flat = True
        elif kw == "gap":
            layers += [tnn.AdaptiveAvgPool2d(1), tnn.Flatten()]
            flat = True
        elif kw == "relu":
            layers.append(tnn.ReLU())
        elif kw == "leakyrelu":
            layers.append(tnn.LeakyReLU(float(pos[0]) if pos else 0.01))
        elif kw == "sigmoid":
            layers.append(tnn.Sigmoid())
        elif kw == "tanh":
            layers.append(tnn.Tanh())
        elif kw == "batchnorm":
            layers.append(tnn.BatchNorm1d(c) if flat else tnn.BatchNorm2d(c))
        elif kw == "dropout":
            layers.append(tnn.Dropout(float(pos[0]) if pos else 0.5))
        else:
            raise SystemExit("bench_torch: unknown layer " + kw)
    net = tnn.Sequential(*layers)
    with torch.no_grad():
        net.eval()(torch.zeros(2, *inp))
    return net


def main():
    path, shape, batch, mode, threads = sys.argv[1:6]
    budget = float(sys.argv[6]) if len(sys.argv) > 6 else 6.0
    device = sys.argv[7] if len(sys.argv) > 7 else "cpu"
    torch.set_num_threads(int(threads))
    cuda = device == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    inp = tuple(int(v) for v in shape.split("x"))
    batch = int(batch)
    net = build(path, inp, 10).to(device)
    x = torch.randn(batch, *inp, device=device)
    y = torch.arange(batch, device=device) % 10
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    last_conv = max(i for i, l in enumerate(net) if isinstance(l, tnn.Conv2d)) if any(isinstance(l, tnn.Conv2d) for l in net) else None

    def step():
        if mode == "train":
            net.train()
            opt.zero_grad(set_to_none=False)
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
        elif mode == "infer":
            net.eval()
            with torch.no_grad():
                net(x)
        else:
            net.eval()
            xi = x.clone().requires_grad_(True)
            a = net[: last_conv + 1](xi)
            a[:, 0].mean().backward()

    for p in net.parameters():
        if mode != "train":
            p.requires_grad_(False)
    times, iters, start = [], 1, time.perf_counter()
    for w in range(-2, 64):
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter() - t0
        if w == -1 and t < 0.3:
            iters = int(0.3 / (t / iters)) + 1
        if w >= 0:
            times.append(t / iters)
        if w >= 2 and time.perf_counter() - start > budget:
            break
    times.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if cuda:
        rss = torch.cuda.max_memory_allocated() / 1048576.0
    print("%.2f\t%.0f" % (batch / times[len(times) // 2], rss))


if __name__ == "__main__":
    main()
