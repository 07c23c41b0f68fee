"""pytorch-fid's InceptionV3 pool3 features (2048-d), the FID network.

Reference: SArena ``metrics/FID.py`` with its ``metrics/inception.py`` (a copy of pytorch-fid's
``InceptionV3``): input ``ToTensor()(img)`` in [0, 1], block 3 (final average pool), the module's
own bilinear resize to 299x299 and scaling to [-1, 1], features squeezed to (N, 2048).
The network here is pytorch-fid's ``InceptionV3`` class itself; the only change is how its
weights arrive: pytorch-fid's ``fid_inception_v3`` downloads ``pt_inception-2015-12-05-6726825d.pth``
unconditionally, so svgarena builds the same patched torchvision Inception (FIDInceptionA/C/E
blocks) without the download and loads that file from disk (strict key match).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from svgarena.scoring._preprocess import to_chw_float

FEATURE_DIM = 2048
_PATCH_LOCK = threading.Lock()


def _fid_inception(state: dict | None) -> Any:
    """pytorch_fid.inception.fid_inception_v3 minus the download: load ``state`` if given."""
    from pytorch_fid import inception as fi

    net = fi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = fi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fi.FIDInceptionE_1(1280)
    net.Mixed_7c = fi.FIDInceptionE_2(2048)
    if state is not None:
        net.load_state_dict(state, strict=True)
    return net


def build_inception(weights: Path | None, device: str = "cpu") -> Any:
    """pytorch-fid ``InceptionV3([3])`` with the FID weights from ``weights`` (random for tests)."""
    import torch

    from svgarena.scoring._torch import import_torchvision

    import_torchvision()
    from pytorch_fid import inception as fi

    state = torch.load(str(weights), map_location="cpu", weights_only=True) if weights is not None else None
    with _PATCH_LOCK:  # InceptionV3 looks fid_inception_v3 up as a module global at construction
        original = fi.fid_inception_v3
        fi.fid_inception_v3 = lambda: _fid_inception(state)
        try:
            model = fi.InceptionV3([fi.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]])
        finally:
            fi.fid_inception_v3 = original
    return model.to(device).eval().requires_grad_(False)


def inception_features(model: Any, images: np.ndarray, device: str = "cpu", half: bool = False) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 2048) float32 pool3 features."""
    import torch
    from torch.nn.functional import adaptive_avg_pool2d

    from svgarena.scoring._torch import autocast

    if len(images) == 0:
        return np.zeros((0, FEATURE_DIM), dtype=np.float32)
    with torch.inference_mode(), autocast(device, half):
        pred = model(to_chw_float(images, device))[0]
        if pred.size(2) != 1 or pred.size(3) != 1:
            pred = adaptive_avg_pool2d(pred, output_size=(1, 1))
    return pred.squeeze(3).squeeze(2).float().cpu().numpy()
