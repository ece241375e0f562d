"""Fake (meta) kernels and autograd for torch.ops.fftconv.conv_forward / conv_backward.

conv_forward returns (y, saved): `saved` is a uint8 tensor holding the FFT policy's transformed input and
weights (or a header only, for the other policies and keep_spectra=False), passed to conv_backward like any
tensor autograd saves, so that checkpointing, torch.compile and export see it. Its size is a pure function of
the shapes and declared settings, which the fake kernel asks the library for.
"""

from __future__ import annotations

import torch

from . import _C

POLICIES = ("fft", "im2col", "naive", "auto")


def release_layers() -> None:
    """Frees the cached layers no call is running on: their FFT plans, workspace and automatic's candidates."""
    _C.release_layers()


def empty_cache() -> None:
    """Frees the cached layers no call is running on and the host memory kept for reuse (the operators keep
    released host blocks of 1 MiB and more, up to FFTCONV_HOST_CACHE_BYTES, default 2 GiB, so that a training
    step's outputs and saved states come back already mapped), as torch.cuda.empty_cache() does for the GPU."""
    _C.empty_cache()


def _concrete(values) -> list[int]:
    # The saved state's size comes from the library's tiling, which needs concrete extents: a symbolic size is
    # specialised here (a guard), as convolution's own algorithm choice is.
    return [int(v) for v in values]


@torch.library.register_fake("fftconv::conv_forward")
def _conv_forward_fake(x, weight, bias, stride, padding_low, padding_high, dilation, groups, policy, keep_spectra):
    rank = len(stride)
    x_sizes, w_sizes = _concrete(x.shape), _concrete(weight.shape)
    saved = _C.saved_state_bytes(x_sizes, w_sizes, str(x.dtype).removeprefix("torch."), list(stride),
                                 list(padding_low), list(padding_high), list(dilation), groups, policy, keep_spectra,
                                 x.device.type == "cuda")
    out = [x.shape[0], weight.shape[0]]
    for i in range(rank):
        span = x.shape[i + 2] + padding_low[i] + padding_high[i] - dilation[i] * (weight.shape[i + 2] - 1) - 1
        out.append(span // stride[i] + 1)
    memory_format = _memory_format(x)
    y = x.new_empty(out).contiguous(memory_format=memory_format) if memory_format else x.new_empty(out)
    return y, x.new_empty((saved,), dtype=torch.uint8)


@torch.library.register_fake("fftconv::conv_backward")
def _conv_backward_fake(grad_output, x, weight, saved, stride, padding_low, padding_high, dilation, groups, policy,
                        output_mask):
    memory_format = _memory_format(x)
    dx = torch.empty_like(x, memory_format=memory_format or torch.contiguous_format) if output_mask[0] else None
    dw = torch.empty_like(weight, memory_format=_memory_format(weight) or torch.contiguous_format) if output_mask[1] else None
    db = x.new_empty((weight.shape[0],)) if output_mask[2] else None
    return dx, dw, db


def _memory_format(t: torch.Tensor):
    # What the kernels allocate: at::Tensor::suggest_memory_format (channels-last stays channels-last).
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous():
        return torch.channels_last
    if t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d) and not t.is_contiguous():
        return torch.channels_last_3d
    return None


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
