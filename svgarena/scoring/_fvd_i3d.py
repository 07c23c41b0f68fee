"""Inception-I3D (Kinetics-400), the FVD feature network, with the state-dict layout of cd-fvd's weights.

cd-fvd (which SArena's FVD calls) builds ``pytorch_i3d.InceptionI3d(400, in_channels=3)`` (from
piergiaj/pytorch-i3d) and loads ``i3d_pretrained_400.pt``: DeepMind's TF-Hub
``i3d-kinetics-400`` converted by TATS (``tats/fvd/convert_tf_pretrained.py``). That file is a
plain state dict: ``<Endpoint>.conv3d.weight`` and ``<Endpoint>.bn.{weight,bias,running_mean,
running_var}`` for ``Conv3d_1a_7x7``, ``Conv3d_2b_1x1``, ``Conv3d_2c_3x3``, for each Inception
block ``Mixed_*.{b0,b1a,b1b,b2a,b2b,b3b}.*``, and ``logits.conv3d.{weight,bias}`` (the TF
conv kernels permuted to (out, in, t, h, w); BatchNorm gammas set to 1 as TF had none). This
module is svgarena's own implementation with exactly those module names, so that file loads
with ``strict=True`` (BatchNorm fills in the absent ``num_batches_tracked`` itself).

Behaviour matched: TF "SAME" padding computed per input size (zeros, also before max pooling),
BatchNorm eps 1e-5 (cd-fvd's value; TF used 1e-3, a known difference of every PyTorch FVD),
ReLU after every unit but the logits, average pool (2, 7, 7) at stride 1, dropout (inactive in
eval), 1x1x1 logits conv with bias, spatial squeeze and a mean over time: (B, 400) logits for a
(B, 3, 16, 224, 224) clip, which are cd-fvd's FVD features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Inception blocks: name -> (input channels, [1x1, 3x3 reduce, 3x3, 3x3 reduce, 3x3, pool proj])
_MIXED: dict[str, tuple[int, tuple[int, int, int, int, int, int]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}
I3D_FEATURES = 400


def _same_pad(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """TensorFlow's SAME padding for (B, C, T, H, W): the extra element goes after, zeros."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _Unit3D(nn.Module):
    """Conv3d (SAME padding) -> BatchNorm3d -> ReLU, or a plain biased conv for the logits."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), *, norm_act: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.norm_act = kernel, stride, norm_act
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=not norm_act)
        if norm_act:
            self.bn = nn.BatchNorm3d(cout, eps=1e-5, momentum=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_same_pad(x, self.kernel, self.stride))
        return F.relu(self.bn(x)) if self.norm_act else x


class _MaxPoolSame(nn.Module):
    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_same_pad(x, self.kernel, self.stride), self.kernel, self.stride)


class _Inception(nn.Module):
    def __init__(self, cin: int, c: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = _Unit3D(cin, c[0])
        self.b1a = _Unit3D(cin, c[1])
        self.b1b = _Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a = _Unit3D(cin, c[3])
        self.b2b = _Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a = _MaxPoolSame((3, 3, 3), (1, 1, 1))
        self.b3b = _Unit3D(cin, c[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


class InceptionI3d(nn.Module):
    """I3D RGB stream: (B, 3, T, H, W) in [-1, 1] -> (B, num_classes) time-averaged logits."""

    def __init__(self, num_classes: int = I3D_FEATURES) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = _Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = _MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = _Unit3D(64, 64)
        self.Conv3d_2c_3x3 = _Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = _MaxPoolSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = _Inception(*_MIXED["Mixed_3b"])
        self.Mixed_3c = _Inception(*_MIXED["Mixed_3c"])
        self.MaxPool3d_4a_3x3 = _MaxPoolSame((3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            setattr(self, name, _Inception(*_MIXED[name]))
        self.MaxPool3d_5a_2x2 = _MaxPoolSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = _Inception(*_MIXED["Mixed_5b"])
        self.Mixed_5c = _Inception(*_MIXED["Mixed_5c"])
        self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=(1, 1, 1))
        self.dropout = nn.Dropout(0.5)
        self.logits = _Unit3D(1024, num_classes, norm_act=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """He-normal convolutions, so a random network keeps its activations in range (tests, benchmarks)."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, module in self.named_children():
            if name in ("avg_pool", "dropout", "logits"):
                break
            x = module(x)
        x = self.logits(self.dropout(self.avg_pool(x)))  # (B, classes, T', 1, 1)
        return x.squeeze(4).squeeze(3).mean(dim=2)
