"""The built-in backbone: a small CNN whose last conv block feeds global average pooling + linear.

That head makes the logit decompose exactly over filters (α_f = w_cf · GAP(A_f)), which is
what the synthetic evaluation relies on. Layer names follow torchvision node naming:
`features.0` … `features.3` are the conv blocks; `features.3` is the default layer.
"""

from __future__ import annotations

from torch import nn

DEFAULT_LAYER = "features.3"


def _conv_block(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """Four conv blocks (two pooled), GAP, linear; `4 * width` filters at `features.3`."""

    def __init__(self, num_classes: int, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(3, width, pool=True),
            _conv_block(width, 2 * width, pool=True),
            _conv_block(2 * width, 3 * width, pool=False),
            _conv_block(3 * width, 4 * width, pool=False),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, images):
        return self.classifier(self.avgpool(self.features(images)).flatten(1))
