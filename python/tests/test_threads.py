"""One thread pool in one process: the extension's OpenMP loops run on torch's libgomp, so torch.set_num_threads
governs them, and OpenBLAS keeps no second pool."""

import torch

import fftconv


def test_openmp_follows_torch_and_openblas_is_single_threaded():
    before = torch.get_num_threads()
    counts = fftconv._C.thread_counts()
    assert counts["openmp"] == before
    if "openblas" in counts:
        assert counts["openblas"] == 1
    try:
        torch.set_num_threads(1)
        assert fftconv._C.thread_counts()["openmp"] == 1
        x, w = torch.randn(2, 3, 20, 20), torch.randn(4, 3, 5, 5)
        torch.testing.assert_close(fftconv.functional.conv2d(x, w), torch.nn.functional.conv2d(x, w),
                                   rtol=1e-5, atol=1e-5)
    finally:
        torch.set_num_threads(before)
    assert fftconv._C.thread_counts()["openmp"] == before


def test_host_blocks_are_kept_for_reuse_and_released():
    fftconv.empty_cache()
    assert fftconv._C.host_cache_bytes() == 0
    layer = fftconv.nn.FFTConv2d(8, 8, 7, padding=3)
    x = torch.randn(4, 8, 96, 96, requires_grad=True)  # y and dx of 1.2 MiB, the saved spectra larger
    y = layer(x)
    first = y.detach().clone()
    y.sum().backward()
    del y
    kept = fftconv._C.host_cache_bytes()
    assert kept > 0  # y, the saved state and dx's blocks came back
    y2 = layer(x)  # served from the kept blocks: same values
    assert torch.equal(y2.detach(), first)
    assert fftconv._C.host_cache_bytes() < kept
    del y2
    fftconv.empty_cache()
    assert fftconv._C.host_cache_bytes() == 0
