"""fftconv for PyTorch: FFT, im2col and direct N-d convolution as torch operators with autograd.

    import fftconv
    layer = fftconv.nn.FFTConv2d(3, 16, kernel_size=7, padding="same")          # policy="fft" by default
    y = fftconv.functional.conv1d(x, w, padding="causal", policy="auto")         # k-1 zeros before, none after

The operators are ``torch.ops.fftconv.conv_forward`` and ``torch.ops.fftconv.conv_backward``; the modules and
functions here call them with autograd, torch.compile and export support.
"""

import torch  # noqa: F401  (loads libtorch before the extension that links it)

from . import _C  # registers torch.ops.fftconv.*
from . import _ops  # fake kernels and autograd for the operators
from . import functional, nn
from ._ops import POLICIES, empty_cache, release_layers

__all__ = ["functional", "nn", "POLICIES", "empty_cache", "release_layers", "has_cuda"]
__version__ = "0.1.0"

has_cuda: bool = _C.has_cuda
"""Whether this build carries CUDA kernels (built against a CUDA torch with nvcc present)."""
