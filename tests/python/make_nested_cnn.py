#!/usr/bin/env python3
"""Trains and scripts a Fashion-MNIST CNN with nested modules the way a user would.

Used by the tests to check that activation taps work on models made with
Python PyTorch: nested nn.Sequential blocks, BatchNorm (whose scripted
forward has control flow), pooling and dropout, compiled by torch.jit.script.

usage: make_nested_cnn.py --data DIR --rows A:B --seed S --epochs E --out MODEL.pt
       make_nested_cnn.py --check MODEL.pt   (prints forward's schema and the
                                             output shape for a [2, 1, 28, 28] batch)
"""
import argparse
import os

import torch
from torch import nn

from make_mlp import find, read_idx


class NestedCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2)
            ),
            nn.Sequential(
                nn.Conv2d(16, 32, 3, padding=1),
                nn.BatchNorm2d(32),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(4),
            ),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.head(self.features(x))


def check(path):
    model = torch.jit.load(path)
    model.eval()
    out = model(torch.rand(2, 1, 28, 28))
    print(model.forward.schema)
    print(list(out.shape))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data")
    parser.add_argument("--rows", default="0:20000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out")
    parser.add_argument("--check")
    args = parser.parse_args()
    if args.check:
        check(args.check)
        return

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    begin, end = (int(v) for v in args.rows.split(":"))
    x = read_idx(find(args.data, "train-images-idx3-ubyte"))[begin:end]
    y = read_idx(find(args.data, "train-labels-idx1-ubyte"))[begin:end]
    x = torch.from_numpy(x.copy()).float().div(255).unsqueeze(1)
    y = torch.from_numpy(y.copy()).long()

    model = NestedCnn()
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
