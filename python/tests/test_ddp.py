"""DistributedDataParallel over fftconv's modules: two Gloo ranks on the CPU against one process.

Each rank trains the same small network (FFTConv2d layers under two policies and a causal FFTConv1d) for a few
SGD steps on its half of every combined minibatch. DDP averages the ranks' gradients of a batch-mean loss,
which is the gradient of the combined batch's mean loss, so both ranks must end with bitwise identical
weights (the all-reduce hands every rank the same sum) that match a single process trained on the combined
batches up to rounding.
"""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

import fftconv

WORLD = 2
STEPS = 4
BATCH = 8  # combined; each rank takes BATCH // WORLD
SEED = 0


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = fftconv.nn.FFTConv2d(2, 4, 3, padding=1, policy="fft")    # -> 4 x 12 x 12
        self.b = fftconv.nn.FFTConv2d(4, 4, 3, stride=2, policy="im2col")  # -> 4 x 5 x 5
        self.c = fftconv.nn.FFTConv1d(4, 4, 5, padding="causal")           # over the 25 positions
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x):
        x = F.relu(self.b(F.relu(self.a(x))))
        x = F.relu(self.c(x.flatten(2)))
        return self.head(x.mean(2))


def batches():
    """STEPS combined minibatches of inputs and class labels, the same in every process."""
    gen = torch.Generator().manual_seed(SEED + 1)
    return (torch.randn(STEPS, BATCH, 2, 12, 12, generator=gen),
            torch.randint(0, 3, (STEPS, BATCH), generator=gen))


def train(net, xs, ys):
    optimiser = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for x, y in zip(xs, ys):
        loss = F.cross_entropy(net(x), y)  # the batch mean: what DDP's gradient average presumes
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()


def worker(rank, store, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(SEED)
        net = torch.nn.parallel.DistributedDataParallel(Net())
        xs, ys = batches()
        half = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
        train(net, xs[:, half], ys[:, half])
        torch.save(net.module.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def relative_l2(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch without Gloo")
def test_ddp_matches_one_process(tmp_path, monkeypatch):
    # The workers inherit the environment: one OpenMP thread each, the two of them sharing the cores.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    mp.spawn(worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=WORLD, join=True)
    states = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]

    torch.manual_seed(SEED)
    reference = Net()
    initial = {k: v.clone() for k, v in reference.state_dict().items()}
    train(reference, *batches())
    expected = reference.state_dict()

    for name, value in expected.items():
        assert torch.equal(states[0][name], states[1][name]), f"{name} differs between the ranks"
        # float32 suffices: the ranks and the single process differ only in summation order (per-half
        # reductions, the all-reduce), a few ulps over a handful of steps.
        assert relative_l2(states[0][name], value) <= 1e-6, name
        assert not torch.equal(value, initial[name]), f"{name} did not train"
