"""The operators: opcheck, gradcheck, parity with torch.nn.functional, layouts, refusals."""

import os
import random
import shutil
import subprocess

import pytest
import torch
from torch.library import opcheck

import fftconv
from conftest import op_args, random_geometry, reference, relative_l2, tensors

POLICIES = fftconv.POLICIES
forward_op = torch.ops.fftconv.conv_forward
backward_op = torch.ops.fftconv.conv_backward


def geometries(rank, count, seed, small=False):
    rng = random.Random(seed * 10 + rank)
    return [random_geometry(rng, rank, small=small) for _ in range(count)]


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("policy", POLICIES)
def test_opcheck(rank, policy):
    for g in geometries(rank, 2, seed=1, small=True):
        for dtype in (torch.float32, torch.float64):
            x, w, b = tensors(g, dtype)
            x.requires_grad_(), w.requires_grad_(), b.requires_grad_()
            opcheck(forward_op, (x, w, b, *op_args(g, policy)))
            y, saved = forward_op(x.detach(), w.detach(), b.detach(), *op_args(g, policy))
            dy = torch.randn_like(y)
            opcheck(backward_op, (dy, x.detach(), w.detach(), saved, *op_args(g, policy)[:-1], [True, True, True]))
            opcheck(backward_op, (dy, x.detach(), w.detach(), saved, *op_args(g, policy)[:-1], [False, True, False]))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("policy", POLICIES)
def test_gradcheck(rank, policy):
    for g in geometries(rank, 3, seed=2, small=True):
        x, w, b = tensors(g)
        conv = lambda x, w, b: fftconv.functional._convolution(  # noqa: E731
            rank, x, w, b, g["stride"], tuple(zip(g["low"], g["high"])), g["dilation"], g["groups"], policy, "spectra")
        assert torch.autograd.gradcheck(conv, (x.requires_grad_(), w.requires_grad_(), b.requires_grad_()))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("policy", POLICIES)
def test_parity_float32(rank, policy):
    """y and dx within 1e-5, dw and db within 1e-4 relative L2 of float64 torch, in float32."""
    for g in geometries(rank, 6, seed=3):
        x64, w64, b64 = tensors(g)
        x64.requires_grad_(), w64.requires_grad_(), b64.requires_grad_()
        y64 = reference(x64, w64, b64, g)
        dy64 = torch.randn_like(y64)
        y64.backward(dy64)
        x, w, b = (t.detach().float().requires_grad_() for t in (x64, w64, b64))
        y, saved = forward_op(x, w, b, *op_args(g, policy))
        assert relative_l2(y, y64) <= 1e-5, g
        y.backward(dy64.float())
        assert relative_l2(x.grad, x64.grad) <= 1e-5, g
        assert relative_l2(w.grad, w64.grad) <= 1e-4, g
        assert relative_l2(b.grad, b64.grad) <= 1e-4, g


@pytest.mark.parametrize("keep", ["spectra", "none"])
def test_keep_sizes_the_saved_state(keep):
    g = dict(batch=2, in_channels=3, out_channels=4, groups=1, kernel=[7, 7], stride=[1, 1], dilation=[1, 1],
             low=[3, 3], high=[3, 3], spatial=[32, 32])
    x, w, _ = tensors(g, torch.float32)
    _, saved = forward_op(x, w, None, *op_args(g, "fft", keep == "spectra"))
    header_only = forward_op(x, w, None, *op_args(g, "naive"))[1].numel()
    assert (saved.numel() > 10 * header_only) == (keep == "spectra")


def test_saved_state_of_another_shape_is_refused():
    g = dict(batch=1, in_channels=2, out_channels=2, groups=1, kernel=[3], stride=[1], dilation=[1], low=[1],
             high=[1], spatial=[16])
    x, w, _ = tensors(g, torch.float32)
    y, saved = forward_op(x, w, None, *op_args(g, "fft"))
    x2 = torch.randn(1, 2, 20)
    with pytest.raises(ValueError, match="saved"):
        backward_op(torch.randn(1, 2, 20), x2, w, saved, *op_args(g, "fft")[:-1], [True, True, False])


def test_auto_measures_once_and_matches():
    g = dict(batch=2, in_channels=4, out_channels=4, groups=1, kernel=[5, 5], stride=[1, 1], dilation=[1, 1],
             low=[2, 2], high=[2, 2], spatial=[24, 24])
    x, w, b = tensors(g)
    y, _ = forward_op(x, w, b, *op_args(g, "auto"))
    assert relative_l2(y, reference(x, w, b, g)) <= 1e-12
    y2, _ = forward_op(x, w, b, *op_args(g, "auto"))
    assert torch.equal(y, y2)


layouts_2d = dict(batch=2, in_channels=4, out_channels=6, groups=2, kernel=[3, 5], stride=[1, 2], dilation=[2, 1],
                  low=[1, 0], high=[2, 3], spatial=[17, 19])


def fake_and_real_outputs(x, w, g, policy, keep):
    from torch._subclasses.fake_tensor import FakeTensorMode
    real = forward_op(x, w, None, *op_args(g, policy, keep))
    with FakeTensorMode() as mode:
        fake = forward_op(mode.from_tensor(x), mode.from_tensor(w), None, *op_args(g, policy, keep))
    return real, fake


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("layout", ["one_channel_channels_last", "channel_slice", "crop", "channels_last_3d"])
def test_fake_kernel_states_the_real_layout(policy, layout):
    """The fake kernel's y and dx strides and saved size are the real kernel's, for layouts whose memory format
    is decided by stride order (a one-channel channels-last tensor is also contiguous)."""
    base = torch.randn(4, 3, 16, 16).contiguous(memory_format=torch.channels_last)
    x = {"one_channel_channels_last": torch.randn(4, 1, 16, 16).contiguous(memory_format=torch.channels_last),
         "channel_slice": base[:, :1], "crop": base[:, :1, 1:-1, 1:-1],
         "channels_last_3d": torch.randn(2, 1, 6, 7, 8).contiguous(memory_format=torch.channels_last_3d)}[layout]
    rank = x.dim() - 2
    g = dict(stride=[1] * rank, low=[2] * rank, high=[2] * rank, dilation=[1] * rank, groups=1)
    w = torch.randn(6, 1, *([5] * rank))
    for keep in (True, False):
        (y, saved), (fake_y, fake_saved) = fake_and_real_outputs(x, w, g, policy, keep)
        assert fake_y.shape == y.shape and fake_y.stride() == y.stride(), (layout, keep)
        assert fake_saved.shape == saved.shape, (layout, keep)
    opcheck(forward_op, (x, w, None, *op_args(g, policy)))
    dy = torch.randn_like(y)
    opcheck(backward_op, (dy, x, w, saved, *op_args(g, policy)[:-1], [True, True, False]))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("layout", ["channels_last", "sliced", "transposed", "expanded"])
def test_layouts(policy, layout):
    g = layouts_2d
    x, w, b = tensors(g, torch.float32)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "sliced":  # every other column of a wider tensor: an odd stride
        wide = torch.randn(g["batch"], g["in_channels"], g["spatial"][0], 2 * g["spatial"][1])
        wide[..., ::2] = x
        x = wide[..., ::2]
    elif layout == "transposed":
        x = x.transpose(2, 3).contiguous().transpose(2, 3)
    else:  # one sample broadcast over the batch: stride 0
        x = x[:1].expand(g["batch"], -1, -1, -1)
    x.requires_grad_(), w.requires_grad_()
    y, _ = forward_op(x, w, b, *op_args(g, policy))
    x64, w64 = x.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    y64 = reference(x64, w64, b.double(), g)
    assert relative_l2(y, y64) <= 1e-5
    if layout == "channels_last":
        assert y.is_contiguous(memory_format=torch.channels_last)
    dy = torch.randn_like(y64)
    y.backward(dy.float())
    y64.backward(dy)
    assert relative_l2(x.grad, x64.grad) <= 1e-5
    assert relative_l2(w.grad, w64.grad) <= 1e-4


def test_unbatched_input_as_torch():
    x, w = torch.randn(3, 20), torch.randn(4, 3, 5)
    torch.testing.assert_close(fftconv.functional.conv1d(x, w, padding=2),
                               torch.nn.functional.conv1d(x, w, padding=2), rtol=1e-5, atol=1e-5)


def test_double_backward_is_refused():
    x = torch.randn(1, 2, 16, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    y = fftconv.functional.conv1d(x, w)
    (dx,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward"):
        dx.sum().backward()


class TestRefusals:
    x = torch.randn(2, 3, 16, 16)
    w = torch.randn(4, 3, 3, 3)
    args = ([1, 1], [1, 1], [1, 1], [1, 1], 1, "fft", True)

    def test_integer_x(self):
        with pytest.raises(TypeError, match="x must be float32, float64, bfloat16 or float16"):
            forward_op(self.x.int(), self.w, None, *self.args)

    def test_weight_dtype(self):
        with pytest.raises(TypeError, match="weight is Double"):
            forward_op(self.x, self.w.double(), None, *self.args)

    def test_bias_dtype(self):
        with pytest.raises(TypeError, match="bias is Double"):
            forward_op(self.x, self.w, torch.zeros(4, dtype=torch.float64), *self.args)

    def test_device_mismatch(self):
        with pytest.raises(RuntimeError, match="weight is on meta"):
            fftconv.functional.conv2d(self.x, self.w.to("meta"))

    def test_channels(self):
        with pytest.raises(ValueError, match="w"):
            forward_op(torch.randn(2, 5, 16, 16), self.w, None, *self.args)

    def test_bias_length(self):
        with pytest.raises(ValueError, match="bias"):
            forward_op(self.x, self.w, torch.zeros(5), *self.args)

    def test_rank(self):
        with pytest.raises(ValueError, match="x must have 4 dims"):
            forward_op(torch.randn(2, 3, 16), self.w, None, *self.args)

    def test_too_small(self):
        with pytest.raises(ValueError, match="too small"):
            forward_op(torch.randn(2, 3, 1, 1), self.w, None, [1, 1], [0, 0], [0, 0], [1, 1], 1, "fft", True)

    def test_policy(self):
        with pytest.raises(ValueError, match="policy"):
            forward_op(self.x, self.w, None, [1, 1], [1, 1], [1, 1], [1, 1], 1, "winograd", True)

    def test_groups(self):
        with pytest.raises(ValueError, match="groups"):
            forward_op(self.x, self.w, None, [1, 1], [1, 1], [1, 1], [1, 1], 2, "fft", True)

    def test_padding_string(self):
        with pytest.raises(ValueError, match="padding"):
            fftconv.functional.conv2d(self.x, self.w, padding="full")

    def test_same_with_stride(self):
        with pytest.raises(ValueError, match="same"):
            fftconv.functional.conv2d(self.x, self.w, padding="same", stride=2)

    def test_saved_dtype(self):
        y, saved = forward_op(self.x, self.w, None, *self.args)
        with pytest.raises(TypeError, match="saved"):
            backward_op(torch.randn_like(y), self.x, self.w, saved.float(), *self.args[:-1], [True, False, False])


@pytest.mark.parametrize("policy", POLICIES)
def test_inputs_refilled_in_place_are_read_afresh(policy):
    """No result depends on a buffer's address: x, w and dy refilled in place (an optimiser's step, a reused input
    buffer) between calls give the new values' results, forward and backward."""
    g = dict(batch=2, in_channels=3, out_channels=4, groups=1, kernel=[5, 5], stride=[1, 1], dilation=[1, 1],
             low=[2, 1], high=[1, 2], spatial=[14, 15])
    x, w, b = tensors(g, seed=11)
    dy = torch.empty(2, 4, 13, 14, dtype=torch.float64)
    for seed in (12, 13):
        fresh_x, fresh_w, _ = tensors(g, seed=seed)
        x.copy_(fresh_x), w.copy_(fresh_w), dy.normal_()
        y, saved = forward_op(x, w, b, *op_args(g, policy))
        x64, w64 = fresh_x.clone().requires_grad_(), fresh_w.clone().requires_grad_()
        reference_y = reference(x64, w64, b, g)
        assert relative_l2(y, reference_y) <= 1e-12
        dx, dw, _ = backward_op(dy, x, w, saved, *op_args(g, policy)[:-1], [True, True, False])
        reference_y.backward(dy)
        assert relative_l2(dx, x64.grad) <= 1e-12
        assert relative_l2(dw, w64.grad) <= 1e-12


class TestNoVendorPolicy:
    """The C++ library's fftconv::vendor is left out of the package (python/README.md, "Why no vendor policy"):
    every entry point refuses the name with the reason, and no vendor library is linked or loaded."""

    x = torch.randn(1, 2, 8, 8)
    w = torch.randn(3, 2, 3, 3)

    def test_functional_refuses_vendor(self):
        with pytest.raises(ValueError, match="policy 'vendor' is not in the PyTorch package.*oneDNN"):
            fftconv.functional.conv2d(self.x, self.w, policy="vendor")

    def test_module_refuses_vendor(self):
        with pytest.raises(ValueError, match="FFTConv2d: policy 'vendor' is not in the PyTorch package"):
            fftconv.nn.FFTConv2d(2, 3, 3, policy="vendor")

    def test_operator_refuses_vendor(self):
        with pytest.raises(ValueError, match="policy \"vendor\" is not in the PyTorch package.*cuDNN"):
            forward_op(self.x, self.w, None, [1, 1], [0, 0], [0, 0], [1, 1], 1, "vendor", False)

    def test_vendor_is_not_a_listed_policy(self):
        assert "vendor" not in fftconv.POLICIES

    def test_no_vendor_library_is_loaded(self):
        """automatic runs without a vendor candidate: after an 'auto' call neither the system's oneDNN nor a
        cuDNN other than torch's is mapped, and the extension itself needs neither."""
        maps = "/proc/self/maps"
        if not os.path.exists(maps):
            pytest.skip("no /proc/self/maps here")
        fftconv.functional.conv2d(self.x, self.w, policy="auto")
        loaded = {line.split()[-1] for line in open(maps) if "/" in line}
        assert not [p for p in loaded if "libdnnl" in os.path.basename(p)]
        assert not [p for p in loaded if "libcudnn" in os.path.basename(p) and "site-packages" not in p]
        readelf = shutil.which("readelf")
        if readelf:
            dynamic = subprocess.run([readelf, "-d", fftconv._C.__file__], capture_output=True, text=True,
                                     check=True).stdout
            needed = [line for line in dynamic.splitlines() if "(NEEDED)" in line]
            assert needed and not [line for line in needed if "dnnl" in line or "cudnn" in line], needed
