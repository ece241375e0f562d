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
