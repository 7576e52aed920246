#!/usr/bin/env python3
"""Trains and scripts a Fashion-MNIST MLP the way a Tracemark user would.

Used by the tests to check that models made with Python PyTorch (nested
nn.Sequential, torch.jit.script) go through release and trace unchanged.

usage: make_mlp.py --data DIR --rows A:B --seed S --epochs E --out MODEL.pt
"""
import argparse
import gzip
import os

import numpy as np
import torch
from torch import nn


class FashionMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU()
        )
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        return self.head(self.features(x))


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def find(directory, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise SystemExit(f"missing {stem} in {directory}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--rows", default="0:20000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    begin, end = (int(v) for v in args.rows.split(":"))
    x = read_idx(find(args.data, "train-images-idx3-ubyte"))[begin:end]
    y = read_idx(find(args.data, "train-labels-idx1-ubyte"))[begin:end]
    x = torch.from_numpy(x.copy()).float().div(255).unsqueeze(1)
    y = torch.from_numpy(y.copy()).long()

    model = FashionMlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(args.epochs):
        order = torch.randperm(len(y))
        for i in range(0, len(y) - 127, 128):
            idx = order[i : i + 128]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
    model.eval()
    tmp = args.out + ".partial"
    torch.jit.script(model).save(tmp)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
