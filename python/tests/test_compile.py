"""torch.compile(fullgraph=True) of a small model with fftconv layers on the CPU: no graph breaks, same results
and gradients as eager."""

import pytest
import torch

import fftconv


class Small(torch.nn.Module):
    def __init__(self, policy):
        super().__init__()
        self.conv1 = fftconv.nn.FFTConv2d(2, 4, 5, padding="same", policy=policy)
        self.conv2 = fftconv.nn.FFTConv2d(4, 4, 3, stride=2, groups=2, policy=policy)
        self.conv3 = fftconv.nn.FFTConv1d(4, 4, 7, padding="causal", groups=4, policy=policy)

    def forward(self, x):
        h = torch.relu(self.conv1(x))
        h = torch.relu(self.conv2(h))
        return self.conv3(h.flatten(2)).square().mean()


@pytest.mark.parametrize("policy", ["fft", "auto"])
def test_compile_fullgraph_matches_eager(policy):
    torch.manual_seed(0)
    model = Small(policy)
    x = torch.randn(2, 2, 16, 16)
    eager_loss = model(x)
    eager_grads = torch.autograd.grad(eager_loss, list(model.parameters()))
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    loss = compiled(x)
    grads = torch.autograd.grad(loss, list(model.parameters()))
    torch.testing.assert_close(loss, eager_loss, rtol=1e-5, atol=1e-6)
    for g, e in zip(grads, eager_grads):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6)


def test_export_keeps_the_operators():
    model = fftconv.nn.FFTConv2d(2, 3, 5, padding=2)
    exported = torch.export.export(model, (torch.randn(1, 2, 12, 12),))
    targets = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    assert "fftconv.conv_forward.default" in targets
    torch.testing.assert_close(exported.module()(torch.ones(1, 2, 12, 12)), model(torch.ones(1, 2, 12, 12)))


def test_activation_checkpointing():
    torch.manual_seed(0)
    layer = fftconv.nn.FFTConv2d(2, 2, 5, padding=2)
    x = torch.randn(1, 2, 12, 12, requires_grad=True)
    checkpointed = torch.utils.checkpoint.checkpoint(layer, x, use_reentrant=False).square().sum()
    (dx_checkpointed,) = torch.autograd.grad(checkpointed, x)
    (dx,) = torch.autograd.grad(layer(x).square().sum(), x)
    torch.testing.assert_close(dx_checkpointed, dx)


def test_export_with_a_dynamic_batch():
    """Without saved spectra (inference, or policies that save a header only) nothing is specialised."""
    model = fftconv.nn.FFTConv2d(2, 3, 5, padding=2).eval()
    batch = torch.export.Dim("batch")
    with torch.no_grad():
        exported = torch.export.export(model, (torch.randn(4, 2, 12, 12),), dynamic_shapes={"input": {0: batch}})
        for n in (1, 7):
            x = torch.randn(n, 2, 12, 12)
            torch.testing.assert_close(exported.module()(x), model(x))


def test_autocast_runs_in_the_autocast_dtype():
    """As torch's convolutions: a bfloat16 output under CPU autocast, the float32 parameters used as they are
    (the same call as the operator's on the bfloat16 input and float32 weights); test_dtypes.py checks accuracy."""
    torch.manual_seed(0)
    linear = torch.nn.Linear(16, 16)
    conv = fftconv.nn.FFTConv1d(4, 4, 5, padding="causal")
    x = torch.randn(2, 4, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = linear(x)  # bfloat16 under autocast
        assert h.dtype == torch.bfloat16
        y = conv(h)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y, conv(h), rtol=0, atol=0)
    y.float().sum().backward()
    assert conv.weight.grad.dtype == torch.float32 and linear.weight.grad.dtype == torch.float32
