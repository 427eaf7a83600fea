"""Feature maps and decision decompositions on real torchvision architectures (random weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from filterspeak.backbones.features import (
    LayerNotFound,
    forward_layers,
    forward_reduced,
    forward_to_layer,
    forward_with_gradients,
    forward_with_layer,
    layer_module,
    linear_gap_head,
)
from filterspeak.backbones.images import normalise
from filterspeak.backbones.registry import Preprocessing
from filterspeak.interpret.decomposition import linear_gap_contributions
from filterspeak.interpret.responses import RESPONSES

PRE = Preprocessing(image_size=64, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


@pytest.fixture(scope="module")
def batch():
    return torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_resnet_decomposition_equals_logit_minus_bias(resnet18, batch):
    result = forward_with_layer(resnet18, "layer4", batch, PRE, CPU)
    head = linear_gap_head(resnet18, result)
    assert head is resnet18.fc
    weights, bias = head.weight.detach().double().numpy(), head.bias.detach().double().numpy()
    logits = result.logits.double().numpy()
    predicted = logits.argmax(axis=1)
    alpha = linear_gap_contributions(result.gap.double().numpy(), weights, predicted)
    np.testing.assert_allclose(alpha.sum(axis=1), logits[np.arange(4), predicted] - bias[predicted], atol=1e-4)


def test_layer_extraction_equals_a_manual_forward(resnet18, batch):
    with torch.no_grad():
        x = normalise(batch, PRE)
        m = resnet18
        manual = m.layer3(m.layer2(m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x)))))))
    for forward in (forward_to_layer, forward_with_layer):
        np.testing.assert_allclose(forward(resnet18, "layer3", batch, PRE, CPU).feature_maps.numpy(), manual.numpy(), atol=1e-5)


def test_a_layer_not_feeding_the_head_has_no_linear_gap_head(resnet18, batch):
    assert linear_gap_head(resnet18, forward_with_layer(resnet18, "layer3", batch, PRE, CPU)) is None


class FlattenHead(nn.Module):
    """conv features → flatten → linear: not GAP, but linear in the feature maps."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, stride=4, padding=1), nn.ReLU())
        self.classifier = nn.Linear(6 * 16 * 16, 5)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def test_gradient_x_activation_is_exact_for_a_head_linear_in_the_maps(batch):
    torch.manual_seed(0)
    model = FlattenHead().eval()
    result = forward_with_gradients(model, "features", batch, PRE, CPU)
    assert linear_gap_head(model, forward_with_layer(model, "features", batch, PRE, CPU)) is None
    logits = result.logits.double().numpy()
    predicted = logits.argmax(axis=1)
    bias = model.classifier.bias.detach().double().numpy()
    np.testing.assert_allclose(
        result.contributions.double().numpy().sum(axis=1), logits[np.arange(4), predicted] - bias[predicted], atol=1e-4
    )


def test_gradient_x_activation_on_squeezenets_conv_head(batch):
    torch.manual_seed(0)
    model = torchvision.models.squeezenet1_0(weights=None).eval()
    result = forward_with_gradients(model, "features.12", batch, PRE, CPU)
    assert result.feature_maps.shape[1] == 512 and result.contributions.shape == (4, 512)
    plain = forward_with_layer(model, "features.12", batch, PRE, CPU)
    np.testing.assert_allclose(result.logits.numpy(), plain.logits.numpy(), atol=1e-5)  # gradients change nothing
    assert linear_gap_head(model, plain) is None
    assert torch.isfinite(result.contributions).all() and result.contributions.abs().sum() > 0


def test_wrong_layer_lists_valid_names(resnet18):
    with pytest.raises(LayerNotFound, match=r"layer 'layer9' not found; valid layers: conv1, bn1, relu, maxpool, layer1") as error:
        layer_module(resnet18, "layer9")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("mode", ["to_layers", "full", "gradients"])
@pytest.mark.parametrize(
    "architecture, layers", [("resnet18", ["layer3", "layer4"]), ("squeezenet1_0", ["features.12", "features.7"])]
)  # ResNet: GAP + linear head, an in-place add after layer3; SqueezeNet: a conv head, an in-place ReLU after the layer
def test_reduced_forward_gives_exactly_the_reductions_of_the_maps(batch, architecture, layers, mode):
    torch.manual_seed(0)
    model = getattr(torchvision.models, architecture)(weights=None).eval()
    maps = forward_layers(model, layers, batch, PRE, CPU, mode)
    reduced = forward_reduced(model, layers, batch, PRE, CPU, mode)
    for layer in layers:
        full, ours = maps[layer], reduced[layer].wait()
        assert list(ours.responses) == [response.column for response in RESPONSES.values()]
        for column, values in full.responses().items():
            assert torch.equal(ours.responses[column], values), column
        assert torch.equal(ours.gap, full.gap)
        assert (ours.logits is None) == (full.logits is None) == (mode == "to_layers")
        assert (ours.contributions is None) == (full.contributions is None) == (mode != "gradients")
        for name in ("logits", "contributions"):
            assert getattr(full, name) is None or torch.equal(getattr(ours, name), getattr(full, name)), name
    assert all(p.grad is None for p in model.parameters())  # no gradients left behind


def test_channels_last_for_convolutional_networks_and_close_to_contiguous():
    from filterspeak.backbones.features import forward_reduced, uses_channels_last

    cpu = torch.device("cpu")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU()).eval()
    no_convolutions = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4))
    assert uses_channels_last("auto", model) and not uses_channels_last("auto", no_convolutions)
    assert uses_channels_last("channels_last", no_convolutions) and not uses_channels_last("contiguous", model)
    with pytest.raises(ValueError, match="unknown layout 'nhwc'"):
        uses_channels_last("nhwc", model)
    batch = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    preprocessing = Preprocessing(image_size=32)
    contiguous = forward_reduced(model, ["3"], batch, preprocessing, cpu, "to_layers")["3"].responses
    model.to(memory_format=torch.channels_last)
    channels_last = forward_reduced(model, ["3"], batch, preprocessing, cpu, "to_layers", channels_last=True)["3"].responses
    for column, values in contiguous.items():
        torch.testing.assert_close(channels_last[column], values, rtol=1e-4, atol=1e-5)
