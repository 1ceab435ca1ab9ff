#!/usr/bin/env python3
"""make-folder.py - a tiny folder dataset (nn-fetch-data folder:PATH) made of
Fashion-MNIST images, so that the pets recipe runs without its download.

Writes OUT/train/CLASS/N.png and OUT/test/CLASS/N.png: the first --train
(--test) images of each chosen class of Fashion-MNIST's train (test) idx
files, as 28x28 RGB PNGs (the gray value in all three channels, so the
dataset has three channels as photos do). Only the standard library.

  make-folder.py OUT [--classes 7:sneaker,9:ankle_boot] [--train 200]
                 [--test 50] [--from DIR ...]
"""
import argparse
import gzip
import os
import struct
import sys
import zlib

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path):
    """The dimensions and the bytes of an idx file (gzip'd)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit("make-folder.py: %s: not an idx file of bytes" % path)
    dims = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def png_rgb(path, gray, w, h):
    """Writes w x h 8-bit gray values as an RGB PNG (filter 0 on every row)."""
    def chunk(kind, body):
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
    rows = b"".join(b"\0" + bytes(v for g in gray[y * w:(y + 1) * w] for v in (g, g, g))
                    for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(rows, 9)))
        f.write(chunk(b"IEND", b""))


def main():
    home = os.environ.get("NN_DATA_HOME", os.path.expanduser("~/.cache/nn"))
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    p.add_argument("out")
    p.add_argument("--classes", default="7:sneaker,9:ankle_boot",
                   help="LABEL:NAME,... (Fashion-MNIST labels 0-9)")
    p.add_argument("--train", type=int, default=200, help="images per class")
    p.add_argument("--test", type=int, default=50, help="images per class")
    p.add_argument("--from", dest="dirs", action="append",
                   help="a directory with the idx files (default: Debian's"
                        " package, then nn-fetch-data's cache)")
    a = p.parse_args()
    dirs = a.dirs or ["/usr/share/datasets/fashion-mnist",
                      os.path.join(home, "fashion-mnist")]
    src = next((d for d in dirs if all(os.path.exists(os.path.join(d, f))
                                       for pair in FILES.values() for f in pair)), None)
    if src is None:
        sys.exit("make-folder.py: no Fashion-MNIST idx files in %s (run"
                 " nn-fetch-data fashion-mnist once)" % ", ".join(dirs))
    classes = [(int(c.split(":")[0]), c.split(":")[1]) for c in a.classes.split(",")]
    for split, count in (("train", a.train), ("test", a.test)):
        (n, h, w), pixels = read_idx(os.path.join(src, FILES[split][0]))
        _, labels = read_idx(os.path.join(src, FILES[split][1]))
        for label, name in classes:
            d = os.path.join(a.out, split, name)
            os.makedirs(d, exist_ok=True)
            rows = [i for i in range(n) if labels[i] == label][:count]
            for i in rows:
                png_rgb(os.path.join(d, "%05d.png" % i), pixels[i * h * w:(i + 1) * h * w], w, h)
    print("make-folder.py: %s: %d train and %d test images of each of %s" %
          (a.out, a.train, a.test, ", ".join(name for _, name in classes)), file=sys.stderr)


if __name__ == "__main__":
    main()
