"""The torch networks that the published weights load into, by the registry's network name.

torchvision does not import with the pinned torch, so MobileNetV2 is written here in plain
torch with torchvision's layout and parameter names. EfficientNet-Lite0 comes from its
weights' companion package. Both load their state dict strictly: a renamed or missing
parameter fails the export instead of leaving random weights.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn


class Conv2dNormActivation(nn.Sequential):
    """Conv-BN-ReLU6 with torchvision's child indices (0 conv, 1 bn, 2 relu6)."""

    def __init__(self, inp: int, oup: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(oup),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """torchvision.models.mobilenetv2.InvertedResidual (same parameter names)."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = inp * expand_ratio
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, kernel=1))
        layers += [
            Conv2dNormActivation(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision.models.MobileNetV2 with width_mult=1.0 (same parameter names)."""

    # t (expansion), c (channels), n (repeats), s (stride of the first repeat)
    SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        inp, last = 32, 1280
        features: list[nn.Module] = [Conv2dNormActivation(3, inp, stride=2)]
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        features.append(Conv2dNormActivation(inp, last, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


def efficientnet_lite0() -> nn.Module:
    """The package's own architecture; its ``from_pretrained`` loads non-strictly, so not used."""
    from efficientnet_lite_pytorch import EfficientNet

    return EfficientNet.from_name("efficientnet-lite0")  # static "same" padding for 224x224


# The registry's ``network`` names.
NETWORKS: dict[str, Callable[[], nn.Module]] = {
    "mobilenet_v2": MobileNetV2,
    "efficientnet_lite0": efficientnet_lite0,
}


def load_network(name: str, weights: Path) -> nn.Module:
    """Build network ``name``, load ``weights`` strictly and return it in eval mode."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model = NETWORKS[name]()
    model.load_state_dict(state, strict=True)
    return model.eval()
