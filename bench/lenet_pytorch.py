#!/usr/bin/env python3
"""PyTorch's CPU training of the LeNet that examples/train_lenet trains, timed the same way.

A measuring tool for the README's LeNet table, not a dependency of the project: it needs torch (CPU or CUDA
wheel; it runs on the CPU) and nothing else. Same data (Fashion-MNIST IDX files, gzip, padded to 32x32,
scaled to [0, 1], normalised by the training set's mean and standard deviation), same network
(conv5(->6)-ReLU-pool2-conv5(->16)-ReLU-pool2-fc120-ReLU-fc84-ReLU-fc10), same loss (softmax cross-entropy,
batch mean), same optimiser (SGD, lr 0.01, momentum 0.9), same batch (128) and the same per-minibatch
timing: the minibatch gather, forward, loss, backward and update of each step, wall clock. Prints the same
time table and the test accuracy.

    python3 bench/lenet_pytorch.py [--data DIR] [--epochs N] [--limit N] [--threads N]
"""

import argparse
import gzip
import statistics
import struct
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def read_idx(path: Path, rank: int) -> torch.Tensor:
    raw = gzip.decompress(path.read_bytes())
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != 0x0800 | rank:
        raise ValueError(f"{path}: magic {magic:#x}, expected {0x0800 | rank:#x} (unsigned bytes, rank {rank})")
    extents = struct.unpack(f">{rank}I", raw[4 : 4 + 4 * rank])
    header = 4 + 4 * rank
    count = 1
    for e in extents:
        count *= e
    if len(raw) != header + count:
        raise ValueError(f"{path}: {len(raw) - header} bytes of data, the header promises {count}")
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(extents)


def load(data: Path, limit: int):
    def images(name):
        x = read_idx(data / name, 3).to(torch.float32).div_(255.0).unsqueeze(1)  # [n, 1, 28, 28]
        return F.pad(x, (2, 2, 2, 2))  # zeros around, centred: [n, 1, 32, 32]

    train_x, test_x = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
    train_y = read_idx(data / "train-labels-idx1-ubyte.gz", 1).to(torch.int64)
    test_y = read_idx(data / "t10k-labels-idx1-ubyte.gz", 1).to(torch.int64)
    if limit > 0:
        train_x, train_y = train_x[:limit], train_y[:limit]
    # Per-channel statistics of the (kept) training images, padding included, as the C++ loader computes them.
    mean = train_x.double().mean().item()
    std = train_x.double().std(unbiased=False).item()
    scale = 1.0 / std if std > 0 else 1.0
    return (train_x - mean) * scale, train_y, (test_x - mean) * scale, test_y


class LeNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: PyTorch's own)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y, test_x, test_y = load(args.data, args.limit)
    net = LeNet()
    optimiser = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}")

    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(len(train_x))
        milliseconds, loss_sum, hits = [], 0.0, 0
        net.train()
        epoch_start = time.perf_counter()
        for first in range(0, len(train_x), args.batch):
            start = time.perf_counter()
            index = order[first : first + args.batch]
            x, y = train_x[index], train_y[index]
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            milliseconds.append(1e3 * (time.perf_counter() - start))
            loss_sum += loss.item() * len(index)
            hits += (logits.argmax(1) == y).sum().item()
        seconds = time.perf_counter() - epoch_start

        net.eval()
        with torch.no_grad():
            correct = sum((net(test_x[i : i + args.batch]).argmax(1) == test_y[i : i + args.batch]).sum().item()
                          for i in range(0, len(test_x), args.batch))
        ms = sorted(milliseconds)
        print(f"epoch {epoch}: per-minibatch time")
        print(f"  {'minibatches':>11} {'min':>10} {'max':>10} {'mean':>10} {'median':>10} {'std':>10}   (ms per minibatch)")
        print(f"  {len(ms):>11} {ms[0]:10.3f} {ms[-1]:10.3f} {statistics.fmean(ms):10.3f} "
              f"{statistics.median(ms):10.3f} {statistics.stdev(ms) if len(ms) > 1 else 0.0:10.3f}")
        print(f"epoch {epoch}: time {seconds:.3f} s, mean loss {loss_sum / len(train_x):.4f} "
              f"(training accuracy {100.0 * hits / len(train_x):.2f}%)")
        print(f"epoch {epoch}: test accuracy {100.0 * correct / len(test_x):.2f}%", flush=True)


if __name__ == "__main__":
    main()
