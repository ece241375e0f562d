"""16-bit storage: bfloat16 and float16 x with weights of the same dtype or float32 (fp32 master weights), every
policy and rank, against float64 torch on the same rounded inputs; torch.autocast; the fake kernels' dtypes;
refused mixes. The library computes and accumulates in float32 and rounds once on store, so the error is about
one rounding of the output: relative L2 <= 1e-2 for bfloat16 (8-bit significand), <= 1e-3 for float16 (11)."""

import pytest
import torch
from torch.library import opcheck

import fftconv
from conftest import op_args, reference, relative_l2, tensors

POLICIES = fftconv.POLICIES
forward_op = torch.ops.fftconv.conv_forward
backward_op = torch.ops.fftconv.conv_backward
TOLERANCE = {torch.bfloat16: 1e-2, torch.float16: 1e-3}

# One layer per rank with groups, stride, dilation and uneven padding; small, so that 48 cases stay cheap.
GEOMETRIES = {
    1: dict(batch=2, in_channels=4, out_channels=6, groups=2, kernel=[7], stride=[2], dilation=[1], low=[3],
            high=[1], spatial=[40]),
    2: dict(batch=2, in_channels=3, out_channels=4, groups=1, kernel=[3, 5], stride=[1, 2], dilation=[2, 1],
            low=[1, 2], high=[2, 0], spatial=[13, 16]),
    3: dict(batch=1, in_channels=2, out_channels=4, groups=2, kernel=[3, 3, 2], stride=[1, 1, 2], dilation=[1, 2, 1],
            low=[1, 0, 1], high=[1, 1, 0], spatial=[6, 8, 7]),
}


def convolution(g, policy):
    rank = len(g["kernel"])
    return lambda x, w, b: fftconv.functional._convolution(  # noqa: E731
        rank, x, w, b, g["stride"], tuple(zip(g["low"], g["high"])), g["dilation"], g["groups"], policy, "spectra")


def float64_reference(x, w, b, dy, g):
    """y, dx, dw, db of torch in float64 on the exact values the 16-bit call received."""
    x64, w64, b64 = (t.detach().double().requires_grad_() for t in (x, w, b))
    y64 = reference(x64, w64, b64, g)
    y64.backward(dy.double())
    return y64, x64.grad, w64.grad, b64.grad


def check_against_float64(g, dtype, weight_dtype, policy, device="cpu"):
    x, w, b = tensors(g, dtype, device)
    w, b = w.to(weight_dtype), b.to(weight_dtype)  # float32 master weights: drawn in float64, rounded to float32
    x.requires_grad_(), w.requires_grad_(), b.requires_grad_()
    y = convolution(g, policy)(x, w, b)
    assert y.dtype == dtype
    dy = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device, dtype)
    y.backward(dy)
    assert (x.grad.dtype, w.grad.dtype, b.grad.dtype) == (dtype, weight_dtype, weight_dtype)
    y64, dx64, dw64, db64 = float64_reference(x.cpu(), w.cpu(), b.cpu(), dy.cpu(), g)
    # float32 weights' gradients are accumulated and stored in float32, never rounded to 16 bits: they meet
    # test_ops.py's float32 bound.
    weight_tolerance = 1e-4 if weight_dtype == torch.float32 else TOLERANCE[dtype]
    for name, got, want, tolerance in (("y", y, y64, TOLERANCE[dtype]), ("dx", x.grad, dx64, TOLERANCE[dtype]),
                                       ("dw", w.grad, dw64, weight_tolerance), ("db", b.grad, db64, weight_tolerance)):
        assert relative_l2(got.cpu(), want) <= tolerance, (name, relative_l2(got.cpu(), want))


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("weights", ["same", "float32"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_parity_with_float64(dtype, weights, policy, rank):
    check_against_float64(GEOMETRIES[rank], dtype, dtype if weights == "same" else torch.float32, policy)


@pytest.mark.parametrize("weight_dtype", [torch.bfloat16, torch.float32])
def test_opcheck_16bit(weight_dtype):
    """The fake kernels state the real kernels' dtypes: y and dx in x's, dw and db in the weights'."""
    g = GEOMETRIES[2]
    x, w, b = tensors(g, torch.bfloat16)
    w, b = w.to(weight_dtype), b.to(weight_dtype)
    opcheck(forward_op, (x, w, b, *op_args(g, "fft")))
    y, saved = forward_op(x, w, b, *op_args(g, "fft"))
    opcheck(backward_op, (torch.randn_like(y), x, w, saved, *op_args(g, "fft")[:-1], [True, True, True]))


class Net(torch.nn.Module):
    def __init__(self, policy="fft"):
        super().__init__()
        self.conv1 = fftconv.nn.FFTConv2d(3, 4, 5, padding="same", policy=policy)
        self.conv2 = fftconv.nn.FFTConv1d(4, 4, 7, padding="causal", groups=2, policy=policy)

    def forward(self, x):
        return self.conv2(torch.relu(self.conv1(x)).flatten(2))


def reference_net(net, x, weights=None):
    """Net's forward in float64 torch, with `weights` (name -> tensor) in place of its parameters."""
    p = weights or dict(net.named_parameters())
    h = torch.nn.functional.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=2)
    h = torch.nn.functional.pad(torch.relu(h).flatten(2), (6, 0))
    return torch.nn.functional.conv1d(h, p["conv2.weight"], p["conv2.bias"], groups=2)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_module_converted_to_16bit(dtype):
    torch.manual_seed(0)
    net = Net().to(dtype)
    x = torch.randn(2, 3, 12, 12).to(dtype).requires_grad_()
    y = net(x)
    assert y.dtype == dtype
    y.float().square().sum().backward()
    assert x.grad.dtype == dtype and all(p.grad.dtype == dtype for p in net.parameters())
    weights = {n: p.detach().double().requires_grad_() for n, p in net.named_parameters()}
    x64 = x.detach().double().requires_grad_()
    y64 = reference_net(net, x64, weights)
    assert relative_l2(y, y64) <= TOLERANCE[dtype]
    # The loss's gradient reaches each layer through 16-bit intermediates, as in any 16-bit model: twice the
    # one-rounding tolerance.
    y64.square().sum().backward()
    assert relative_l2(x.grad, x64.grad) <= 2 * TOLERANCE[dtype]
    for name, p in net.named_parameters():
        assert relative_l2(p.grad, weights[name].grad) <= 2 * TOLERANCE[dtype], name


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_cpu_runs_in_the_autocast_dtype(dtype):
    """As torch's convolutions under autocast: the output in the autocast dtype, x rounded to it; float32 weights
    and bias are passed as they are (the library takes them beside 16-bit x), and every gradient comes back in
    its input's dtype."""
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(2, 3, 12, 12, requires_grad=True)
    with torch.autocast("cpu", dtype=dtype):
        y = net(x)
    assert y.dtype == dtype
    # float32 weights reach the operator uncast: the operator's autograd node takes them straight from their
    # AccumulateGrad, with no cast node between.
    node = y.grad_fn
    while "ConvForward" not in type(node).__name__ and "conv_forward" not in node.name():
        node = node.next_functions[0][0]
    assert "AccumulateGrad" in type(node.next_functions[1][0]).__name__
    dy = torch.randn(y.shape, dtype=torch.float64)
    y.backward(dy.to(dtype))
    assert x.grad.dtype == torch.float32 and all(p.grad.dtype == torch.float32 for p in net.parameters())
    # The reference sees what the 16-bit model saw: x and the first layer's output rounded to the autocast dtype.
    weights = {n: p.detach().double().requires_grad_() for n, p in net.named_parameters()}
    x64 = x.detach().to(dtype).double().requires_grad_()
    y64 = reference_net(net, x64, weights)
    y64.backward(dy.to(dtype).double())
    assert relative_l2(y, y64) <= 2 * TOLERANCE[dtype]
    assert relative_l2(x.grad, x64.grad) <= 2 * TOLERANCE[dtype]
    for name, p in net.named_parameters():
        assert relative_l2(p.grad, weights[name].grad) <= 2 * TOLERANCE[dtype], name


def test_autocast_casts_16bit_weights_to_the_autocast_dtype():
    """Weights that are 16-bit already but not of the autocast dtype are cast to it, as torch's convolutions do;
    their gradients return in their own dtype."""
    g = GEOMETRIES[1]
    x, w, b = tensors(g, torch.float32)
    w, b = w.half().requires_grad_(), b.half().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = convolution(g, "fft")(x, w, b)
    assert y.dtype == torch.bfloat16
    y.float().sum().backward()
    assert w.grad.dtype == torch.float16 and b.grad.dtype == torch.float16


def test_autocast_leaves_float64_alone():
    g = GEOMETRIES[1]
    x, w, b = tensors(g, torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = convolution(g, "fft")(x, w, b)
    assert y.dtype == torch.float64
    assert relative_l2(y, reference(x, w, b, g)) <= 1e-12


def test_compile_16bit_matches_eager():
    torch.manual_seed(0)
    net = Net().to(torch.bfloat16)
    x = torch.randn(2, 3, 12, 12).bfloat16()
    eager = net(x)
    eager_grads = torch.autograd.grad(eager.float().square().sum(), list(net.parameters()))
    torch._dynamo.reset()
    compiled = torch.compile(net, fullgraph=True)
    y = compiled(x)
    assert y.dtype == torch.bfloat16
    grads = torch.autograd.grad(y.float().square().sum(), list(net.parameters()))
    torch.testing.assert_close(y, eager)
    for got, want in zip(grads, eager_grads):
        assert got.dtype == torch.bfloat16
        torch.testing.assert_close(got, want)


def test_compile_under_autocast_matches_eager():
    """Traced under autocast, the operator's autocast kernel runs on fake tensors: the same casts, dtypes and
    results as eager."""
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(2, 3, 12, 12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        eager = net(x)
    eager_grads = torch.autograd.grad(eager.float().square().sum(), list(net.parameters()))
    torch._dynamo.reset()
    compiled = torch.compile(net, fullgraph=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = compiled(x)
    assert y.dtype == torch.bfloat16
    grads = torch.autograd.grad(y.float().square().sum(), list(net.parameters()))
    torch.testing.assert_close(y, eager)
    for got, want in zip(grads, eager_grads):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want)


class TestRefusals:
    g = GEOMETRIES[2]

    def call(self, x_dtype, w_dtype, b_dtype):
        x, w, b = tensors(self.g, x_dtype)
        return forward_op(x, w.to(w_dtype), b.to(b_dtype), *op_args(self.g, "fft"))

    @pytest.mark.parametrize("x_dtype, w_dtype", [(torch.float32, torch.bfloat16), (torch.float64, torch.float32),
                                                  (torch.bfloat16, torch.float16), (torch.float16, torch.float64)])
    def test_weight_dtype(self, x_dtype, w_dtype):
        with pytest.raises(TypeError, match="weight must be x's dtype, or float32 beside bfloat16 or float16 x"):
            self.call(x_dtype, w_dtype, w_dtype)

    def test_bias_of_another_dtype_than_the_weights(self):
        with pytest.raises(TypeError, match="bias is BFloat16, weight is Float"):
            self.call(torch.bfloat16, torch.float32, torch.bfloat16)

    def test_grad_output_of_another_dtype_than_x(self):
        x, w, _ = tensors(self.g, torch.bfloat16)
        y, saved = forward_op(x, w.float(), None, *op_args(self.g, "fft"))
        with pytest.raises(TypeError, match="grad_output is Float, x is BFloat16"):
            backward_op(y.float(), x, w.float(), saved, *op_args(self.g, "fft")[:-1], [True, True, False])

    def test_fake_kernel_refuses_as_the_real_one(self):
        from torch._subclasses.fake_tensor import FakeTensorMode
        x, w, _ = tensors(self.g, torch.float32)
        w = w.bfloat16()
        with FakeTensorMode() as mode, pytest.raises(TypeError, match="weight must be x's dtype"):
            forward_op(mode.from_tensor(x), mode.from_tensor(w), None, *op_args(self.g, "fft"))


cuda = pytest.mark.skipif(not (torch.cuda.is_available() and fftconv.has_cuda),
                          reason="needs a CUDA GPU and an fftconv build with CUDA kernels")


@cuda
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("weights", ["same", "float32"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cuda_parity_with_float64(dtype, weights, policy, rank):
    check_against_float64(GEOMETRIES[rank], dtype, dtype if weights == "same" else torch.float32, policy, "cuda")


@cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_cuda(dtype):
    torch.manual_seed(0)
    net = Net().cuda()
    x = torch.randn(2, 3, 12, 12, device="cuda", requires_grad=True)
    with torch.autocast("cuda", dtype=dtype):
        y = net(x)
    assert y.dtype == dtype
    dy = torch.randn(y.shape, dtype=torch.float64)
    y.backward(dy.to("cuda", dtype))
    assert x.grad.dtype == torch.float32 and all(p.grad.dtype == torch.float32 for p in net.parameters())
    weights = {n: p.detach().cpu().double().requires_grad_() for n, p in net.named_parameters()}
    x64 = x.detach().cpu().to(dtype).double().requires_grad_()
    y64 = reference_net(net, x64, weights)
    y64.backward(dy.to(dtype).double())
    assert relative_l2(y.cpu(), y64) <= 2 * TOLERANCE[dtype]
    assert relative_l2(x.grad.cpu(), x64.grad) <= 2 * TOLERANCE[dtype]
    for name, p in net.named_parameters():
        assert relative_l2(p.grad.cpu(), weights[name].grad) <= 2 * TOLERANCE[dtype], name
