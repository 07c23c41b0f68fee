"""LPIPS (VGG) with SArena's input normalisation.

Reference: SArena ``metrics/LPIPS.py`` (and ``metrics/video/LPIPS_video.py``): ``lpips.LPIPS(net="vgg")``
(v0.1, linear layers on, spatial average), inputs ``Normalize(ImageNet mean, std)(ToTensor()(img))``
passed with ``normalize=False``, so the package's own scaling layer is applied on top of the
ImageNet normalisation: values are not comparable with LPIPS computed on [-1, 1] inputs. Video:
every pair of the 8 sampled frames, averaged.

The network is the lpips package's own (``lpips.LPIPS``, constructed with ``pnet_rand=True`` so it
does not download VGG16; the ImageNet VGG16 weights are then loaded from torchvision's
``vgg16-397923af.pth``, the file lpips would have downloaded). The distance is computed with the
package's own layers and helpers; the only deliberate difference is bookkeeping: features of
the black substitute are computed once and reused for every failed sample, and reference and
prediction share one forward batch. Equality with ``LPIPS.forward`` is tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from svgarena.scoring._preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize, to_chw_float

# lpips.pretrained_networks.vgg16: torchvision VGG16 ``features`` indices per slice.
_VGG_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))


def vgg_to_lpips_keys(state: dict) -> dict:
    """torchvision VGG16 state dict -> keys of lpips' ``vgg16`` module (``slice{k}.{i}.weight``)."""
    out = {}
    for key, value in state.items():
        if not key.startswith("features."):
            continue  # the classifier is not part of LPIPS
        _, idx, param = key.split(".")
        i = int(idx)
        for k, (lo, hi) in enumerate(_VGG_SLICES, start=1):
            if lo <= i < hi:
                out[f"slice{k}.{i}.{param}"] = value
                break
    return out


def build_lpips(vgg_weights: Path | None, lin_weights: Path | None = None, device: str = "cpu") -> Any:
    """``lpips.LPIPS(net="vgg")`` without any download: VGG16 from ``vgg_weights`` (or random for
    tests), linear layers from the package's v0.1 file (or ``lin_weights``)."""
    import torch

    from svgarena.scoring._torch import import_torchvision, quiet_loggers

    import_torchvision()
    quiet_loggers("lpips")
    import lpips

    import warnings

    with warnings.catch_warnings():  # torchvision's notice about lpips' legacy `pretrained=` argument
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="vgg", version="0.1", pretrained=True, pnet_rand=True, verbose=False,
                            model_path=str(lin_weights) if lin_weights is not None else None)
    if vgg_weights is not None:
        state = torch.load(str(vgg_weights), map_location="cpu", weights_only=True)
        model.net.load_state_dict(vgg_to_lpips_keys(state), strict=True)
    return model.to(device).eval().requires_grad_(False)


def prepare(images: np.ndarray, device: str = "cpu") -> Any:
    """SArena's LPIPS input: ``Normalize(ImageNet)(ToTensor()(img))``, NCHW float32."""
    return normalize(to_chw_float(images, device), IMAGENET_MEAN, IMAGENET_STD)


def features(model: Any, x: Any) -> list:
    """Unit-normalised VGG features of already-prepared inputs, per LPIPS layer."""
    import lpips

    outs = model.net.forward(model.scaling_layer(x))
    return [lpips.normalize_tensor(o) for o in outs]


def distance(model: Any, f0: list, f1: list) -> Any:
    """LPIPS.forward's tail: per layer, lin((f0 - f1)^2) averaged over space, summed over layers."""
    from lpips.lpips import spatial_average

    val = 0
    for kk in range(model.L):
        val = val + spatial_average(model.lins[kk]((f0[kk] - f1[kk]) ** 2), keepdim=True)
    return val.reshape(-1)


def lpips_pairs(model: Any, refs: np.ndarray, preds: np.ndarray | None, device: str = "cpu", half: bool = False,
                black_feats: list | None = None) -> np.ndarray:
    """LPIPS of each (ref, pred) pair; ``preds=None`` with ``black_feats`` scores every ref against black."""
    import torch

    from svgarena.scoring._torch import autocast

    with torch.inference_mode(), autocast(device, half):
        if preds is None:
            f_ref = features(model, prepare(refs, device))
            f_pred = [f.expand(len(refs), -1, -1, -1) for f in black_feats]  # type: ignore[union-attr]
        else:
            both = features(model, prepare(np.concatenate([refs, preds]), device))
            n = len(refs)
            f_ref, f_pred = [f[:n] for f in both], [f[n:] for f in both]
        d = distance(model, f_ref, f_pred)
    return d.float().cpu().numpy().astype(np.float64)


def black_features(model: Any, shape: tuple[int, int], device: str = "cpu", half: bool = False) -> list:
    import torch

    from svgarena.scoring._torch import autocast

    black = np.zeros((1, shape[0], shape[1], 3), dtype=np.uint8)
    with torch.inference_mode(), autocast(device, half):
        return features(model, prepare(black, device))
