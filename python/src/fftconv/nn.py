"""fftconv.nn.FFTConv1d / FFTConv2d / FFTConv3d: drop-in torch.nn.Conv{1,2,3}d computed by fftconv.

Same constructor arguments, parameters, initialisation (reset_parameters) and state_dict as torch.nn.ConvNd,
so a state_dict loads into either. Beyond nn.ConvNd: padding may be a tuple of (before, after) pairs or
'causal', and `policy` ('fft' default, 'im2col', 'naive', 'auto') and `keep` ('spectra', 'none') choose how
fftconv computes (see fftconv.functional).
"""

from __future__ import annotations

import torch
from torch.nn.modules.conv import _ConvNd
from torch.nn.modules.utils import _ntuple

from . import functional as F
from ._ops import check_policy


class _FFTConvNd(_ConvNd):
    _rank = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding: F.Padding = 0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None, *, policy: str = "fft", keep: str = "spectra") -> None:
        n = self._rank
        kernel_size, stride, dilation = _ntuple(n)(kernel_size), _ntuple(n)(stride), _ntuple(n)(dilation)
        check_policy(type(self).__name__, policy)
        if keep not in ("spectra", "none"):
            raise ValueError(f"{type(self).__name__}: keep must be 'spectra' or 'none', got {keep!r}")
        low, high = F.padding_sides(padding, kernel_size, stride, dilation)
        # nn.ConvNd validates and stores what it knows ('same', 'valid', symmetric ints); per-side padding is
        # stored after it as given.
        known = padding in ("same", "valid")
        plain = padding if known else (low if low == high else (0,) * n)
        super().__init__(in_channels, out_channels, kernel_size, stride, plain, dilation, False, _ntuple(n)(0),
                         groups, bias, padding_mode, device=device, dtype=dtype)
        if padding == "causal":
            self.padding = "causal"
        elif not known and low != high:
            self.padding = tuple(zip(low, high))
        self._sides = (low, high)
        self.policy = policy
        self.keep = keep

    def extra_repr(self) -> str:
        return super().extra_repr() + f", policy={self.policy!r}"

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        low, high = self._sides
        if self.padding_mode != "zeros":  # as nn.ConvNd: pad with the mode, then convolve unpadded
            pairs = [p for lo, hi in zip(reversed(low), reversed(high)) for p in (lo, hi)]
            input = torch.nn.functional.pad(input, pairs, mode=self.padding_mode)
            low = high = (0,) * self._rank
        return F._convolution(self._rank, input, self.weight, self.bias, self.stride, tuple(zip(low, high)),
                              self.dilation, self.groups, self.policy, self.keep)


class FFTConv1d(_FFTConvNd):
    """torch.nn.Conv1d computed by fftconv (long and causal kernels: padding='causal')."""
    _rank = 1


class FFTConv2d(_FFTConvNd):
    """torch.nn.Conv2d computed by fftconv."""
    _rank = 2


class FFTConv3d(_FFTConvNd):
    """torch.nn.Conv3d computed by fftconv."""
    _rank = 3


__all__ = ["FFTConv1d", "FFTConv2d", "FFTConv3d"]
