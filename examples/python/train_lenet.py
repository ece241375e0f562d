#!/usr/bin/env python3
"""train_lenet.py: LeNet-5 on Fashion-MNIST with fftconv.nn.FFTConv2d, on one process or data-parallel.

The network, data and optimiser of examples/train_lenet.cpp: conv5(->6)-ReLU-pool2-conv5(->16)-ReLU-pool2-
fc120-ReLU-fc84-ReLU-fc10 on 32x32 images (Fashion-MNIST's 28x28 padded with zeros, scaled to [0, 1], then
standardised with the whole training set's mean and standard deviation, before --limit), softmax
cross-entropy (batch mean), SGD with momentum 0.9, lr 0.01, minibatch 128, seed 1. Its two convolutions are
fftconv.nn.FFTConv2d layers computed by --policy; the rest is torch. Per epoch it prints the per-minibatch
time table of the C++ example (each step's gather, forward, loss, backward and update, wall clock on the CPU,
CUDA events on the GPU), the epoch's time and training loss, and the test accuracy.

    python examples/python/train_lenet.py [--policy fft|im2col|naive|auto] [--epochs N] [--limit K] ...
    torchrun --nproc-per-node N examples/python/train_lenet.py [options]

Under torchrun (WORLD_SIZE, RANK and LOCAL_RANK set) each process is one DistributedDataParallel replica:
Gloo on the CPU, NCCL on GPUs (one GPU per process, cuda:LOCAL_RANK). --batch-size is the *global*
minibatch: each of the N ranks takes batch-size / N samples of it (batch-size must be a multiple of N), so a
step sees the same 128 samples and, since DDP averages the ranks' batch-mean gradients, takes the same SGD
step as one process would, whatever N. The order comes from DistributedSampler (seed --seed, reshuffled per
epoch); rank r takes every N-th sample of the epoch's permutation from position r, so the ranks' minibatches
together are exactly one process's minibatch. The test set is split in contiguous parts, evaluated in
parallel and summed. Only rank 0 prints; its step times include the gradient all-reduce.

Needs torch, numpy and the fftconv package (pip install ./python); the data is Debian's dataset-fashion-mnist
(gzip IDX files in /usr/share/datasets/fashion-mnist) or any directory of the same four files (--data-dir).
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

import fftconv

DEFAULT_DATA = Path("/usr/share/datasets/fashion-mnist")
EXTENT = 32  # LeNet's input: Fashion-MNIST's 28x28 is padded to it


# ---------------------------------------------------------------------------------------------------- data

def read_idx(path: Path, rank: int) -> np.ndarray:
    """An IDX file of unsigned bytes (gzip or plain), checked against its header."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    expected = 0x0800 | rank
    if len(raw) < 4 or int.from_bytes(raw[:4], "big") != expected:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes of rank {rank} (magic {raw[:4].hex()}, "
                         f"expected {expected:08x})")
    header = 4 + 4 * rank
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    extents = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank))
    if len(raw) != header + int(np.prod(extents)):
        raise ValueError(f"{path}: {len(raw) - header} bytes of data, the header promises {extents}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(extents)


def existing(directory: Path, name: str) -> Path:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{directory / name}.gz: no such file (nor {name} uncompressed); "
                            "install dataset-fashion-mnist or pass --data-dir")


def load_part(directory: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = read_idx(existing(directory, f"{prefix}-images-idx3-ubyte"), 3)
    labels = read_idx(existing(directory, f"{prefix}-labels-idx1-ubyte"), 1)
    count, rows, cols = pixels.shape
    if len(labels) != count:
        raise ValueError(f"{directory}: {prefix} has {count} images but {len(labels)} labels")
    if labels.max(initial=0) > 9:
        raise ValueError(f"{directory}: {prefix} labels outside 0..9")
    if rows > EXTENT or cols > EXTENT:
        raise ValueError(f"{directory}: {prefix} images are {rows}x{cols}, LeNet takes at most 32x32")
    images = np.zeros((count, 1, EXTENT, EXTENT), dtype=np.float32)
    top, left = (EXTENT - rows) // 2, (EXTENT - cols) // 2
    images[:, 0, top:top + rows, left:left + cols] = pixels / np.float32(255)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def load(directory: Path, limit: int):
    train_x, train_y = load_part(directory, "train")
    test_x, test_y = load_part(directory, "t10k")
    # The whole training set's statistics (population variance, in double, padding included), as the C++
    # loader's: --limit then changes what is trained on, not the inputs' scale.
    mean = train_x.double().mean().item()
    std = train_x.double().std(unbiased=False).item()
    scale = 1.0 / std if std > 0 else 1.0
    train_x, test_x = (train_x - mean) * scale, (test_x - mean) * scale
    if 0 < limit < len(train_x):
        train_x, train_y = train_x[:limit], train_y[:limit]
    return train_x.float(), train_y, test_x.float(), test_y


# ------------------------------------------------------------------------------------------------- network

class LeNet(torch.nn.Module):
    def __init__(self, policy: str, channels: int = 1):
        super().__init__()
        self.conv1 = fftconv.nn.FFTConv2d(channels, 6, 5, policy=policy)  # -> 6 x 28 x 28
        self.conv2 = fftconv.nn.FFTConv2d(6, 16, 5, policy=policy)        # -> 16 x 10 x 10
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # -> 6 x 14 x 14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # -> 16 x 5 x 5
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# ------------------------------------------------------------------------------------------------ reporting

def print_time_table(milliseconds: list[float]) -> None:
    """examples/lenet/report.hpp's table: count, min, max, mean, median, sample standard deviation."""
    ms = sorted(milliseconds)
    print(f"  {'minibatches':>11} {'min':>10} {'max':>10} {'mean':>10} {'median':>10} {'std':>10}   (ms per minibatch)")
    if not ms:
        print(f"  {0:>11} {0:10.3f} {0:10.3f} {0:10.3f} {0:10.3f} {0:10.3f}")
        return
    std = statistics.stdev(ms) if len(ms) > 1 else 0.0
    print(f"  {len(ms):>11} {ms[0]:10.3f} {ms[-1]:10.3f} {statistics.fmean(ms):10.3f} "
          f"{statistics.median(ms):10.3f} {std:10.3f}")


class StepTimer:
    """Per-step milliseconds: wall clock on the CPU; CUDA events on the GPU, read once per epoch, so that
    timing does not synchronise every step (as the C++ example's device stopwatch)."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.marks: list = []

    def start(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def stop(self, started) -> None:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append((started, event))
        else:
            self.marks.append(1e3 * (time.perf_counter() - started))

    def milliseconds(self) -> list[float]:
        if self.cuda:
            torch.cuda.synchronize()
            return [a.elapsed_time(b) for a, b in self.marks]
        return list(self.marks)


# ------------------------------------------------------------------------------------------------- training

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--policy", choices=fftconv.POLICIES, default="fft",
                        help="fftconv's convolution algorithm (auto: the fastest per layer, timed on its first call)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128,
                        help="global minibatch, split evenly across the ranks under torchrun")
    parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    parser.add_argument("--limit", type=int, default=0, help="train on the first K training images only (0: all)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto: CUDA when torch sees a GPU and fftconv was built with CUDA kernels")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=1, help="initialisation and shuffling seed")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.limit < 0 or args.lr < 0 or args.momentum < 0:
        parser.error("--limit, --lr and --momentum must be >= 0")
    return args, parser


def distributed_env() -> tuple[int, int, int] | None:
    """(world size, rank, local rank) when started by torchrun (or any launcher that sets its variables)."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))


def choose_device(requested: str, local_rank: int) -> torch.device:
    gpu = torch.cuda.is_available() and fftconv.has_cuda
    if requested == "cuda" and not gpu:
        reason = "this fftconv was built without CUDA kernels" if not fftconv.has_cuda else "torch sees no GPU"
        raise SystemExit(f"train_lenet: --device cuda: {reason}")
    if requested == "cpu" or not gpu:
        return torch.device("cpu")
    if local_rank >= torch.cuda.device_count():
        raise SystemExit(f"train_lenet: local rank {local_rank} has no GPU ({torch.cuda.device_count()} visible); "
                         "start at most one process per GPU or pass --device cpu")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def main(argv=None) -> int:
    args, parser = parse_args(argv)
    env = distributed_env()
    world, rank, local_rank = env if env else (1, 0, 0)
    if args.batch_size % world != 0:
        parser.error(f"--batch-size {args.batch_size} is not a multiple of the {world} ranks")
    device = choose_device(args.device, local_rank)
    if env:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                device_id=device if device.type == "cuda" else None)
    leader = rank == 0
    try:
        train(args, world, rank, device, leader)
    finally:
        if env:
            dist.destroy_process_group()
    return 0


def train(args, world: int, rank: int, device: torch.device, leader: bool) -> None:
    torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP broadcasts rank 0's anyway)
    train_x, train_y, test_x, test_y = load(args.data_dir, args.limit)
    train_x, train_y, test_x, test_y = (t.to(device) for t in (train_x, train_y, test_x, test_y))

    model = LeNet(args.policy).to(device)
    net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if world > 1 else model
    optimiser = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    local_batch = args.batch_size // world
    # A sampler with one replica when not distributed: the same epoch permutation for any world size.
    sampler = DistributedSampler(range(len(train_x)), num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    test_first, test_last = rank * len(test_x) // world, (rank + 1) * len(test_x) // world

    if leader:
        parallel = f", {world} ranks of {local_batch} (DDP, {dist.get_backend()})" if world > 1 else ""
        print(f"train_lenet: fashion-mnist, {len(train_x)} training / {len(test_x)} test images of "
              f"1x{EXTENT}x{EXTENT}; "
              f"policy {args.policy}, device {device.type}, batch {args.batch_size}{parallel}, lr {args.lr:g}, "
              f"momentum {args.momentum:g}, seed {args.seed}, epochs {args.epochs}; torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads{' per rank' if world > 1 else ''}", flush=True)

    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler), dtype=torch.int64, device=device)
        timer = StepTimer(device)
        # Summed on the device and read once per epoch: no synchronisation per step.
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        hits = torch.zeros((), dtype=torch.int64, device=device)
        net.train()
        if device.type == "cuda":
            torch.cuda.synchronize()
        epoch_start = time.perf_counter()
        for first in range(0, len(order), local_batch):
            started = timer.start()
            index = order[first:first + local_batch]
            x, y = train_x[index], train_y[index]
            logits = net(x)
            loss = F.cross_entropy(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            timer.stop(started)
            loss_sum += loss.detach().double() * len(index)
            hits += (logits.detach().argmax(1) == y).sum()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - epoch_start
        milliseconds = timer.milliseconds()

        test_start = time.perf_counter()
        model.eval()
        test_loss = torch.zeros((), dtype=torch.float64, device=device)
        test_hits = torch.zeros((), dtype=torch.int64, device=device)
        with torch.no_grad():
            for first in range(test_first, test_last, args.batch_size):
                last = min(first + args.batch_size, test_last)
                logits = model(test_x[first:last])
                test_loss += F.cross_entropy(logits, test_y[first:last], reduction="sum").double()
                test_hits += (logits.argmax(1) == test_y[first:last]).sum()
        # Sums over the ranks (the DistributedSampler's padding, if any, counted as trained).
        totals = torch.stack([loss_sum, hits.double(), test_loss, test_hits.double(),
                              torch.tensor(float(len(order)), dtype=torch.float64, device=device)])
        if world > 1:
            dist.all_reduce(totals)
        loss_sum, hits, test_loss, test_hits, trained = totals.tolist()
        test_seconds = time.perf_counter() - test_start

        if leader:
            print(f"epoch {epoch}: per-minibatch time")
            print_time_table(milliseconds)
            print(f"epoch {epoch}: time {seconds:.3f} s (test pass {test_seconds:.3f} s), mean loss "
                  f"{loss_sum / trained:.4f} (training accuracy {100.0 * hits / trained:.2f}%, test loss "
                  f"{test_loss / len(test_x):.4f})")
            print(f"epoch {epoch}: test accuracy {100.0 * test_hits / len(test_x):.2f}%", flush=True)


if __name__ == "__main__":
    sys.exit(main())
