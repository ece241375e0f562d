"""fftconv.functional.conv1d / conv2d / conv3d: torch.nn.functional's convolutions computed by fftconv.

Same arguments and results as torch.nn.functional.conv{1,2,3}d (cross-correlation, weight
[out_channels, in_channels / groups, k...], groups, stride, dilation, padding as int / tuple / 'same' / 'valid'),
plus:

- padding per side: a tuple of (before, after) pairs, one per spatial dim, or 'causal' (all dilation*(k-1) zeros
  before the input, none after: output t sees inputs <= t);
- policy: 'fft' (default), 'im2col', 'naive' or 'auto' (measured per shape on the first call); the C++
  library's 'vendor' is refused here (python/README.md says why);
- keep: 'spectra' (default) saves the FFT policy's transformed input and weights for backward, so a training
  step transforms dy only; 'none' saves a header and transforms x and w again in backward (less memory).
  Nothing is saved when no input requires a gradient.

dtypes: input float32, float64, bfloat16 or float16; weight and bias of input's dtype, or float32 beside a 16-bit
input (fp32 master weights). The output and input's gradient come in input's dtype, the weights' gradients in
theirs; 16-bit tensors are computed in float32. Under torch.autocast the call runs in the autocast dtype, float32
weights kept as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ._ops import check_policy

Padding = int | str | Sequence[int] | Sequence[Sequence[int]]


def _tuple(value, rank: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    values = tuple(value)
    if len(values) != rank or not all(isinstance(v, int) for v in values):
        raise ValueError(f"fftconv: {name} must be an int or {rank} ints, got {value!r}")
    return values


def padding_sides(padding: Padding, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]):
    """The zeros before and after each spatial dim that `padding` declares, as two tuples (low, high)."""
    rank = len(kernel)
    spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * rank, (0,) * rank
        if padding in ("same", "causal"):
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("fftconv: padding='same' is not supported for strided convolutions (as in torch)")
            if padding == "causal":
                return tuple(spans), (0,) * rank
            low = tuple(s // 2 for s in spans)  # torch's split: the odd zero goes after
            return low, tuple(s - lo for s, lo in zip(spans, low))
        raise ValueError(f"fftconv: padding must be 'valid', 'same', 'causal', an int or a tuple, got {padding!r}")
    if isinstance(padding, int):
        return (padding,) * rank, (padding,) * rank
    entries = tuple(padding)
    if len(entries) == rank and all(isinstance(p, int) for p in entries):
        return entries, entries
    if len(entries) == rank and all(isinstance(p, Sequence) and len(p) == 2 for p in entries):
        return tuple(int(p[0]) for p in entries), tuple(int(p[1]) for p in entries)
    raise ValueError(f"fftconv: padding must be an int, {rank} ints or {rank} (before, after) pairs, got {padding!r}")


def _convolution(rank: int, input: torch.Tensor, weight: torch.Tensor, bias, stride, padding, dilation, groups: int,
                 policy: str, keep: str) -> torch.Tensor:
    name = f"fftconv.functional.conv{rank}d"
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{name}: weight must be a Tensor, got {type(weight).__name__}")
    check_policy(name, policy)
    if keep not in ("spectra", "none"):
        raise ValueError(f"{name}: keep must be 'spectra' or 'none', got {keep!r}")
    if weight.dim() != rank + 2:
        raise ValueError(f"{name}: weight must have {rank + 2} dims, got shape {tuple(weight.shape)}")
    for label, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.device != input.device:
            raise RuntimeError(f"{name}: {label} is on {t.device}, input on {input.device}")
    unbatched = input.dim() == rank + 1
    if unbatched:  # as torch.nn.functional: (C, spatial...) is one sample
        input = input.unsqueeze(0)
    stride = _tuple(stride, rank, "stride")
    dilation = _tuple(dilation, rank, "dilation")
    low, high = padding_sides(padding, tuple(weight.shape[2:]), stride, dilation)
    wants_grad = torch.is_grad_enabled() and (
        input.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad))
    y, _ = torch.ops.fftconv.conv_forward(input, weight, bias, list(stride), list(low), list(high), list(dilation),
                                          groups, policy, keep == "spectra" and wants_grad)
    return y.squeeze(0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding: Padding = 0, dilation=1, groups: int = 1, *,
           policy: str = "fft", keep: str = "spectra") -> torch.Tensor:
    """torch.nn.functional.conv1d computed by fftconv (see the module's doc for padding, policy and keep)."""
    return _convolution(1, input, weight, bias, stride, padding, dilation, groups, policy, keep)


def conv2d(input, weight, bias=None, stride=1, padding: Padding = 0, dilation=1, groups: int = 1, *,
           policy: str = "fft", keep: str = "spectra") -> torch.Tensor:
    """torch.nn.functional.conv2d computed by fftconv (see the module's doc for padding, policy and keep)."""
    return _convolution(2, input, weight, bias, stride, padding, dilation, groups, policy, keep)


def conv3d(input, weight, bias=None, stride=1, padding: Padding = 0, dilation=1, groups: int = 1, *,
           policy: str = "fft", keep: str = "spectra") -> torch.Tensor:
    """torch.nn.functional.conv3d computed by fftconv (see the module's doc for padding, policy and keep)."""
    return _convolution(3, input, weight, bias, stride, padding, dilation, groups, policy, keep)
