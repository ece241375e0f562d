"""FFTConv1d/2d/3d against torch.nn.Conv1d/2d/3d: arguments, initialisation, state_dict, padding modes."""

import pytest
import torch

import fftconv
from conftest import relative_l2

torch_conv = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
fft_conv = {1: fftconv.nn.FFTConv1d, 2: fftconv.nn.FFTConv2d, 3: fftconv.nn.FFTConv3d}
extents = {1: (37,), 2: (15, 13), 3: (9, 8, 7)}

configs = [
    dict(kernel_size=3, padding=1),
    dict(kernel_size=5, padding="same", dilation=2),
    dict(kernel_size=3, padding="valid", stride=2, bias=False),
    dict(kernel_size=4, padding=2, groups=2),
    dict(kernel_size=3, padding=1, padding_mode="reflect"),
    dict(kernel_size=3, padding=2, padding_mode="circular", stride=2),
    dict(kernel_size=2, padding=1, padding_mode="replicate", groups=2),
]


def pair(rank, config, policy="fft", seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    reference = torch_conv[rank](4, 6, **config, dtype=dtype)
    torch.manual_seed(seed)
    layer = fft_conv[rank](4, 6, **config, policy=policy)
    return reference, layer


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("config", configs, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_module_parity_with_loaded_state_dict(rank, config):
    reference, layer = pair(rank, config)
    layer.load_state_dict({k: v.float() for k, v in reference.state_dict().items()})
    x64 = torch.randn(2, 4, *extents[rank], dtype=torch.float64, requires_grad=True)
    x = x64.detach().float().requires_grad_()
    y64, y = reference(x64), layer(x)
    assert y.shape == y64.shape
    assert relative_l2(y, y64) <= 1e-5
    dy = torch.randn_like(y64)
    y64.backward(dy)
    y.backward(dy.float())
    assert relative_l2(x.grad, x64.grad) <= 1e-5
    assert relative_l2(layer.weight.grad, reference.weight.grad) <= 1e-4
    if reference.bias is not None:
        assert relative_l2(layer.bias.grad, reference.bias.grad) <= 1e-4


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_reset_parameters_and_state_dict_match_torch(rank):
    reference, layer = pair(rank, dict(kernel_size=3, padding=1), seed=5, dtype=torch.float32)
    assert layer.state_dict().keys() == reference.state_dict().keys()
    for key in reference.state_dict():
        assert torch.equal(layer.state_dict()[key], reference.state_dict()[key]), key
    reference.load_state_dict(layer.state_dict())  # and back
    assert "policy='fft'" in repr(layer)


def test_asymmetric_and_causal_padding():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 50, dtype=torch.float64)
    layer = fftconv.nn.FFTConv1d(3, 3, kernel_size=9, padding="causal", groups=3, dtype=torch.float64)
    y = layer(x)
    assert y.shape == x.shape
    expected = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (8, 0)), layer.weight, layer.bias, groups=3)
    assert relative_l2(y, expected) <= 1e-12
    x2 = x.clone()
    x2[..., 30:] += 1.0  # a causal output never sees later inputs (up to the transforms' rounding)
    assert relative_l2(layer(x2)[..., :30], y[..., :30]) <= 1e-13
    layer2 = fftconv.nn.FFTConv2d(3, 2, kernel_size=(3, 4), padding=((0, 2), (3, 1)), dtype=torch.float64)
    x2d = torch.randn(1, 3, 10, 11, dtype=torch.float64)
    expected2 = torch.nn.functional.conv2d(torch.nn.functional.pad(x2d, (3, 1, 0, 2)), layer2.weight, layer2.bias)
    assert relative_l2(layer2(x2d), expected2) <= 1e-12
    assert layer2.padding == ((0, 2), (3, 1))


@pytest.mark.parametrize("policy", fftconv.POLICIES)
def test_channels_last_module(policy):
    reference, layer = pair(2, dict(kernel_size=5, padding=2), policy=policy)
    layer.load_state_dict({k: v.float() for k, v in reference.state_dict().items()})
    x = torch.randn(3, 4, 20, 20).contiguous(memory_format=torch.channels_last)
    y = layer(x)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert relative_l2(y, reference(x.double())) <= 1e-5


def test_policy_is_checked():
    with pytest.raises(ValueError, match="policy"):
        fftconv.nn.FFTConv2d(1, 1, 3, policy="winograd")


def test_no_state_is_saved_without_grad():
    layer = fftconv.nn.FFTConv2d(2, 2, 7, padding=3)
    x = torch.randn(1, 2, 32, 32)
    with torch.no_grad():
        y_eval = layer(x)
    y = layer(x)
    assert y_eval.grad_fn is None and y.grad_fn is not None
    assert torch.allclose(y, y_eval)


def test_empty_batch_as_torch():
    layer = fftconv.nn.FFTConv2d(3, 4, 5, padding=2)
    x = torch.randn(0, 3, 16, 16, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 4, 16, 16)
    y.sum().backward()
    assert x.grad.shape == x.shape
    assert torch.count_nonzero(layer.weight.grad) == 0 and torch.count_nonzero(layer.bias.grad) == 0


def test_causal_with_a_one_tap_kernel():
    layer = fftconv.nn.FFTConv2d(4, 4, 1, padding="causal")
    x = torch.randn(1, 4, 5, 6)
    assert layer.padding == "causal"
    torch.testing.assert_close(layer(x), torch.nn.functional.conv2d(x, layer.weight, layer.bias))
