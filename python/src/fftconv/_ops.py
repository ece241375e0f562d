"""Fake (meta) kernels and autograd for torch.ops.fftconv.conv_forward / conv_backward.

conv_forward returns (y, saved): `saved` is a uint8 tensor holding the FFT policy's transformed input and
weights (or a header only, for the other policies and keep_spectra=False), passed to conv_backward like any
tensor autograd saves, so that checkpointing, torch.compile and export see it. Its size is a pure function of
the shapes and declared settings, which the fake kernel asks the library for.
"""

from __future__ import annotations

import torch
from torch._prims_common import suggest_memory_format

from . import _C

POLICIES = ("fft", "im2col", "naive", "auto")

# The C++ library's fftconv::vendor (oneDNN 2.x on the host, cuDNN on the device) is left out of this package:
# torch carries its own oneDNN (3.x, inside libtorch_cpu.so) and cuDNN (the nvidia-cudnn wheel), and the system
# copies the library would link share symbol names with them (python/README.md, "Why no vendor policy").
VENDOR_REFUSAL = ("policy 'vendor' is not in the PyTorch package: the extension is built without oneDNN and cuDNN "
                  "(FFTCONV_HAS_ONEDNN=0, FFTCONV_HAS_CUDNN=0) because torch already carries its own oneDNN 3.x "
                  "(inside libtorch_cpu.so) and cuDNN (the nvidia-cudnn wheel), whose exported symbols share "
                  "names with the system's oneDNN 2.x and cuDNN, so calls into one copy can bind to the other; "
                  "use torch.nn.Conv1d/2d/3d for the vendor's convolution, or policy='auto'")


def check_policy(owner: str, policy) -> None:
    """Raises ValueError, naming owner, unless policy is one of POLICIES (with the reason for 'vendor')."""
    if policy == "vendor":
        raise ValueError(f"{owner}: {VENDOR_REFUSAL}")
    if policy not in POLICIES:
        raise ValueError(f"{owner}: policy must be one of {POLICIES}, got {policy!r}")


def release_layers() -> None:
    """Frees the cached layers no call is running on: their FFT plans, workspace and automatic's candidates."""
    _C.release_layers()


def empty_cache() -> None:
    """Frees the cached layers no call is running on and the host memory kept for reuse (the operators keep
    released host blocks of 1 MiB and more, up to FFTCONV_HOST_CACHE_BYTES, default 2 GiB, so that a training
    step's outputs and saved states come back already mapped), as torch.cuda.empty_cache() does for the GPU."""
    _C.empty_cache()


_STORAGE = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def _check_dtypes(op, x, weight, bias):
    # The CPU and CUDA kernels' checks, stated for fake tensors too, so that a traced call fails as an eager one.
    torch._check_with(TypeError, x.dtype in _STORAGE,
                      lambda: f"{op}: x must be float32, float64, bfloat16 or float16, got {x.dtype}")
    fp32_weights = x.dtype in (torch.bfloat16, torch.float16) and weight.dtype == torch.float32
    torch._check_with(TypeError, weight.dtype == x.dtype or fp32_weights,
                      lambda: f"{op}: weight is {weight.dtype}, x is {x.dtype}; weight must be x's dtype, or float32 "
                              "beside bfloat16 or float16 x")
    torch._check_with(TypeError, bias is None or bias.dtype == weight.dtype,
                      lambda: f"{op}: bias is {bias.dtype}, weight is {weight.dtype}; they must match")


def _concrete(values) -> list[int]:
    # The FFT policy's saved spectra are sized by its tiling, which needs concrete extents: a symbolic size is
    # specialised here (a guard), as convolution's own algorithm choice is. A header-only state needs none.
    return [int(v) for v in values]


@torch.library.register_fake("fftconv::conv_forward")
def _conv_forward_fake(x, weight, bias, stride, padding_low, padding_high, dilation, groups, policy, keep_spectra):
    rank = len(stride)
    _check_dtypes("fftconv.conv_forward", x, weight, bias)
    torch._check(x.dim() == rank + 2 and weight.dim() == rank + 2,
                 lambda: f"fftconv.conv_forward: x and weight must have {rank + 2} dims")
    torch._check(x.shape[1] == weight.shape[1] * groups,
                 lambda: f"fftconv.conv_forward: x has {x.shape[1]} channels, weight expects "
                         f"{weight.shape[1]} x groups {groups}")
    if keep_spectra and policy in ("fft", "auto"):
        saved = _C.saved_state_bytes(_concrete(x.shape), _concrete(weight.shape),
                                     x.dtype, weight.dtype, list(stride), list(padding_low),
                                     list(padding_high), list(dilation), groups, policy, keep_spectra,
                                     x.device.type == "cuda")
    else:
        saved = _C.saved_header_bytes
    out = [x.shape[0], weight.shape[0]]
    for i in range(rank):
        span = x.shape[i + 2] + padding_low[i] + padding_high[i] - dilation[i] * (weight.shape[i + 2] - 1) - 1
        out.append(span // stride[i] + 1)
    y = torch.empty(out, dtype=x.dtype, device=x.device, memory_format=_memory_format(x))
    return y, x.new_empty((saved,), dtype=torch.uint8)


@torch.library.register_fake("fftconv::conv_backward")
def _conv_backward_fake(grad_output, x, weight, saved, stride, padding_low, padding_high, dilation, groups, policy,
                        output_mask):
    _check_dtypes("fftconv.conv_backward", x, weight, None)
    torch._check_with(TypeError, grad_output.dtype == x.dtype,
                      lambda: f"fftconv.conv_backward: grad_output is {grad_output.dtype}, x is {x.dtype}; they must "
                              "match")
    # dx in x's dtype; dw and dbias in the weights' (float32 beside 16-bit x for fp32 master weights).
    dx = torch.empty_like(x, memory_format=_memory_format(x)) if output_mask[0] else None
    dw = torch.empty_like(weight, memory_format=_memory_format(weight)) if output_mask[1] else None
    db = weight.new_empty((weight.shape[0],)) if output_mask[2] else None
    return dx, dw, db


def _memory_format(t: torch.Tensor) -> torch.memory_format:
    # What the kernels allocate: at::Tensor::suggest_memory_format, decided by stride order as torch decides it
    # (a one-channel channels-last tensor, a channel slice or a crop of one stays channels-last).
    if t.dim() in (4, 5):
        return suggest_memory_format(t)
    return torch.contiguous_format


def _forward_setup(ctx, inputs, output):
    x, weight, bias, stride, padding_low, padding_high, dilation, groups, policy, keep_spectra = inputs
    _, saved = output
    ctx.save_for_backward(x, weight, saved)
    ctx.settings = (stride, padding_low, padding_high, dilation, groups, policy)
    ctx.has_bias = bias is not None


def _forward_backward(ctx, grad_y, grad_saved):
    x, weight, saved = ctx.saved_tensors
    mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2]]
    if not any(mask):
        return (None,) * 10
    dx, dw, db = torch.ops.fftconv.conv_backward(grad_y, x, weight, saved, *ctx.settings, mask)
    return dx, dw, db, None, None, None, None, None, None, None


torch.library.register_autograd("fftconv::conv_forward", _forward_backward, setup_context=_forward_setup)


def _backward_setup(ctx, inputs, output):
    pass


def _no_double_backward(ctx, *grads):
    raise RuntimeError(
        "fftconv: double backward (a gradient of conv_backward) is not implemented; use torch.nn.functional.conv*d "
        "for higher-order gradients")


torch.library.register_autograd("fftconv::conv_backward", _no_double_backward, setup_context=_backward_setup)
