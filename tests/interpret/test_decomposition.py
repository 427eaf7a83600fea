"""Σ_f α_f equals the logit minus the bias for a GAP + linear head."""

import numpy as np
import torch

from filterspeak.backbones.features import forward_with_layer, linear_gap_head
from filterspeak.backbones.registry import BackboneSpec, Preprocessing, build_backbone
from filterspeak.interpret.decomposition import filter_weights_for_decision, linear_gap_contributions


def test_contributions_sum_to_logit_minus_bias():
    torch.manual_seed(0)
    spec = BackboneSpec(width=8)
    model = build_backbone(spec, num_classes=5).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    batch = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    result = forward_with_layer(model, spec.default_layer, batch, Preprocessing(image_size=32), torch.device("cpu"))
    head = linear_gap_head(model, result)
    assert head is model.classifier
    weights, bias = head.weight.detach().double().numpy(), head.bias.detach().double().numpy()
    logits = result.logits.double().numpy()
    for target in range(5):
        classes = np.full(6, target)
        alpha = linear_gap_contributions(result.gap.double().numpy(), weights, classes)
        np.testing.assert_allclose(alpha.sum(axis=1), logits[:, target] - bias[target], atol=1e-4)
        assert np.abs(alpha).sum() > 1e-3  # not trivially zero


def test_filter_weights_keep_only_positive_contributions():
    weights = filter_weights_for_decision(np.array([[2.0, -1.0, 2.0], [-1.0, -2.0, 0.0]]))
    np.testing.assert_allclose(weights, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
