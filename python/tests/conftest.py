import random

import torch

import fftconv  # noqa: F401  (registers the operators)


def random_geometry(rng: random.Random, rank: int, *, small: bool = False):
    """A random layer: groups, stride, dilation and per-side padding, extents large enough for one output."""
    groups = rng.choice([1, 1, 2, 3])
    kernel = [rng.randint(1, 3 if rank == 3 or small else 5) for _ in range(rank)]
    stride = [rng.randint(1, 2) for _ in range(rank)]
    dilation = [rng.randint(1, 2) for _ in range(rank)]
    low = [rng.randint(0, 2) for _ in range(rank)]
    high = [rng.randint(0, 2) for _ in range(rank)]
    reach = 4 if rank == 3 or small else 9
    spatial = [max(1, d * (k - 1) + 1 - lo - hi) + rng.randint(0, reach)
               for k, d, lo, hi in zip(kernel, dilation, low, high)]
    return dict(batch=rng.randint(1, 2), in_channels=groups * rng.randint(1, 2),
                out_channels=groups * rng.randint(1, 2), groups=groups, kernel=kernel, stride=stride,
                dilation=dilation, low=low, high=high, spatial=spatial)


def reference(x, w, b, g):
    """torch.nn.functional.conv{N}d over explicitly padded x: the float64 ground truth."""
    pairs = [p for lo, hi in zip(reversed(g["low"]), reversed(g["high"])) for p in (lo, hi)]
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d, 3: torch.nn.functional.conv3d}[x.dim() - 2]
    return conv(torch.nn.functional.pad(x, pairs), w, b, stride=g["stride"], dilation=g["dilation"],
                groups=g["groups"])


def tensors(g, dtype=torch.float64, device="cpu", bias=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(g["batch"], g["in_channels"], *g["spatial"], generator=gen, dtype=torch.float64)
    w = torch.randn(g["out_channels"], g["in_channels"] // g["groups"], *g["kernel"], generator=gen,
                    dtype=torch.float64)
    b = torch.randn(g["out_channels"], generator=gen, dtype=torch.float64) if bias else None
    move = lambda t: None if t is None else t.to(device=device, dtype=dtype)  # noqa: E731
    return move(x), move(w), move(b)


def op_args(g, policy, keep_spectra=True):
    return (g["stride"], g["low"], g["high"], g["dilation"], g["groups"], policy, keep_spectra)


def relative_l2(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-300)).item()
