"""The CUDA kernels: parity with torch on the GPU, torch's stream and allocator. Skipped without a GPU."""

import random

import pytest
import torch

import fftconv
from conftest import op_args, random_geometry, reference, relative_l2, tensors

pytestmark = pytest.mark.skipif(not (torch.cuda.is_available() and fftconv.has_cuda),
                                reason="needs a CUDA GPU and an fftconv build with CUDA kernels")


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("policy", fftconv.POLICIES)
def test_cuda_parity(rank, policy):
    rng = random.Random(40 + rank)
    for _ in range(4):
        g = random_geometry(rng, rank)
        x64, w64, b64 = tensors(g)
        for t in (x64, w64, b64):
            t.requires_grad_()
        y64 = reference(x64, w64, b64, g)
        dy64 = torch.randn_like(y64)
        y64.backward(dy64)
        x, w, b = (t.detach().float().cuda().requires_grad_() for t in (x64, w64, b64))
        y, _ = torch.ops.fftconv.conv_forward(x, w, b, *op_args(g, policy))
        y.backward(dy64.float().cuda())
        assert relative_l2(y.cpu(), y64) <= 1e-5
        assert relative_l2(x.grad.cpu(), x64.grad) <= 1e-5
        assert relative_l2(w.grad.cpu(), w64.grad) <= 1e-4
        assert relative_l2(b.grad.cpu(), b64.grad) <= 1e-4


def test_cuda_gradcheck():
    g = random_geometry(random.Random(7), 2, small=True)
    x, w, b = tensors(g, device="cuda")
    conv = lambda x, w, b: fftconv.functional._convolution(  # noqa: E731
        2, x, w, b, g["stride"], tuple(zip(g["low"], g["high"])), g["dilation"], g["groups"], "fft", "spectra")
    assert torch.autograd.gradcheck(conv, (x.requires_grad_(), w.requires_grad_(), b.requires_grad_()))


def test_cuda_runs_on_the_current_stream():
    layer = fftconv.nn.FFTConv2d(3, 4, 7, padding=3).cuda()
    x = torch.randn(2, 3, 32, 32, device="cuda")
    expected = layer(x)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        y = layer(x)
    torch.cuda.current_stream().wait_stream(stream)
    torch.testing.assert_close(y, expected)


def test_cuda_opcheck():
    from torch.library import opcheck
    g = random_geometry(random.Random(3), 2, small=True)
    x, w, b = tensors(g, torch.float32, device="cuda")
    opcheck(torch.ops.fftconv.conv_forward, (x, w, b, *op_args(g, "fft")))


def test_cuda_device_mismatch_is_refused():
    with pytest.raises(RuntimeError, match="weight is on"):
        torch.ops.fftconv.conv_forward(torch.randn(1, 1, 8, device="cuda"), torch.randn(1, 1, 3), None, [1], [0], [0],
                                       [1], 1, "fft", True)
