#!/usr/bin/python3
"""gen_optim.py - golden optimizer steps from torch.optim for test/test_optim.c.

Regenerate (from the repository root; needs PyTorch and h5py, e.g. Debian's
python3-torch and python3-h5py):

    /usr/bin/python3 test/golden/gen_optim.py test/golden/optim.h5

For every case, one fixed parameter tensor of N values takes STEPS steps of
torch.optim.X with the hyper-parameters written out explicitly, fed a fixed
sequence of seeded gradients. test/golden/optim.h5 holds one group per case:

    attributes  spec  the text nn_optim_parse reads ("adam:beta1=0.8")
                lr    learning rate (double)
                wd    weight decay (double)
    datasets    w0    [N]         float32, the parameter before the first step
                grads [STEPS, N]  float32, the gradient of each step
                w     [STEPS, N]  float32, the parameter after each step
"""
import sys

import h5py
import numpy as np
import torch

N, STEPS = 37, 4

# name: (spec, torch class, explicit keyword arguments, lr, wd)
# The keyword arguments are the hyper-parameters the spec means in nn
# (nn's defaults where the spec leaves them out).
CASES = {
    "sgd": ("sgd", torch.optim.SGD, {}, 0.1, 0.0),
    "sgd_wd": ("sgd", torch.optim.SGD, {}, 0.1, 0.05),
    "momentum": ("momentum", torch.optim.SGD, {"momentum": 0.9}, 0.05, 0.0),
    "momentum_wd": ("momentum:momentum=0.8", torch.optim.SGD,
                    {"momentum": 0.8}, 0.05, 0.01),
    "nesterov": ("nesterov", torch.optim.SGD,
                 {"momentum": 0.9, "nesterov": True}, 0.05, 0.0),
    "nesterov_wd": ("nesterov:momentum=0.7", torch.optim.SGD,
                    {"momentum": 0.7, "nesterov": True}, 0.05, 0.02),
    "adagrad": ("adagrad", torch.optim.Adagrad,
                {"lr_decay": 0, "initial_accumulator_value": 0, "eps": 1e-10},
                0.1, 0.0),
    "adagrad_wd": ("adagrad:eps=1e-6", torch.optim.Adagrad,
                   {"lr_decay": 0, "initial_accumulator_value": 0, "eps": 1e-6},
                   0.1, 0.03),
    "rmsprop": ("rmsprop", torch.optim.RMSprop,
                {"alpha": 0.99, "eps": 1e-8, "momentum": 0, "centered": False},
                0.01, 0.0),
    "rmsprop_wd": ("rmsprop:alpha=0.9,eps=1e-6", torch.optim.RMSprop,
                   {"alpha": 0.9, "eps": 1e-6, "momentum": 0, "centered": False},
                   0.01, 0.02),
    "rmsprop_momentum": ("rmsprop:momentum=0.9", torch.optim.RMSprop,
                         {"alpha": 0.99, "eps": 1e-8, "momentum": 0.9,
                          "centered": False}, 0.01, 0.0),
    "rmsprop_momentum_wd": ("rmsprop:momentum=0.5,alpha=0.95", torch.optim.RMSprop,
                            {"alpha": 0.95, "eps": 1e-8, "momentum": 0.5,
                             "centered": False}, 0.01, 0.01),
    "adam": ("adam", torch.optim.Adam,
             {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}, 0.01, 0.0),
    "adam_wd": ("adam:beta1=0.8,beta2=0.99,eps=1e-6", torch.optim.Adam,
                {"betas": (0.8, 0.99), "eps": 1e-6, "amsgrad": False}, 0.01, 0.05),
    "adamw": ("adamw", torch.optim.AdamW,
              {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}, 0.01, 0.0),
    "adamw_wd": ("adamw:beta1=0.8", torch.optim.AdamW,
                 {"betas": (0.8, 0.999), "eps": 1e-8, "amsgrad": False}, 0.01, 0.1),
}


def run(cls, kwargs, lr, wd, w0, grads):
    w = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    opt = cls([w], lr=lr, weight_decay=wd, foreach=False, **kwargs)
    out = np.zeros((STEPS, N), np.float32)
    for s in range(STEPS):
        w.grad = torch.from_numpy(grads[s].copy())
        opt.step()
        out[s] = w.detach().numpy()
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "test/golden/optim.h5"
    torch.manual_seed(20261124)
    torch.set_num_threads(1)
    w0 = torch.randn(N).numpy().astype(np.float32)
    # gradients of mixed sizes, one of them exactly zero
    grads = (torch.randn(STEPS, N) * torch.logspace(-2, 1, N)).numpy().astype(np.float32)
    grads[1, 3] = 0
    # Small datasets are stored compact (inside their object headers), and
    # every case's w0 and grads are hard links to the first case's, which
    # keeps the file small. No timestamps: the same inputs give the same
    # bytes.
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    first = None
    with h5py.File(fid) as f:
        f.attrs["generator"] = "test/golden/gen_optim.py, torch %s" % torch.__version__
        for name, (spec, cls, kwargs, lr, wd) in CASES.items():
            h5py.h5g.create(f.id, name.encode(), gcpl=gcpl)
            g = f[name]
            g.attrs["spec"] = spec
            g.attrs["lr"] = float(lr)
            g.attrs["wd"] = float(wd)
            if first is None:
                first = g
                g.create_dataset("w0", data=w0, dcpl=dcpl, track_times=False)
                g.create_dataset("grads", data=grads, dcpl=dcpl, track_times=False)
            else:
                g["w0"] = first["w0"]
                g["grads"] = first["grads"]
            g.create_dataset("w", data=run(cls, kwargs, lr, wd, w0, grads),
                             dcpl=dcpl, track_times=False)


if __name__ == "__main__":
    main()
