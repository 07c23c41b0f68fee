"""DINO score: DINOv2-base image features, cosine similarity rescaled to [0, 1].

Reference: SArena ``metrics/DINO_Score.py`` (and ``metrics/video/DINO_video.py`` for video2sani):
``AutoModel.from_pretrained("facebook/dinov2-base")`` with ``AutoImageProcessor`` defaults
(BitImageProcessor, slow: PIL bicubic resize of the shortest edge to 256, centre crop 224,
x/255, ImageNet mean/std), features = ``last_hidden_state.mean(dim=1)`` (CLS and patch tokens),
score = (cos + 1) / 2. Video: the same per frame over the 8 sampled frames, averaged.

Deliberate differences: images are processed in batches (the reference does one image at a
time; batching changes results only by float rounding, tested); the network is built from the
published dinov2-base configuration and its weights loaded from ``model.safetensors`` directly
(no hub call); SArena's video scorer runs under fp16 autocast on CUDA, svgarena uses fp32 unless
``--half`` is given (then fp16 autocast, as SArena's video scorer does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from svgarena.scoring._preprocess import IMAGENET_MEAN, IMAGENET_STD, hf_rescale_normalize, resize_crop

# facebook/dinov2-base config.json (the fields that shape the network) and preprocessor_config.json.
DINOV2_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, mlp_ratio=4, image_size=518,
                   patch_size=14, num_channels=3, layerscale_value=1.0, drop_path_rate=0.0, hidden_act="gelu",
                   layer_norm_eps=1e-6, qkv_bias=True, use_swiglu_ffn=False, hidden_dropout_prob=0.0,
                   attention_probs_dropout_prob=0.0, initializer_range=0.02)
RESIZE_SHORTEST = 256
CROP = 224


def build_dino(weights: Path | None, device: str = "cpu") -> Any:
    """Dinov2Model of dinov2-base's architecture; weights from a safetensors/pt file, or random (tests)."""
    from svgarena.scoring._torch import import_torchvision

    import_torchvision()  # transformers imports torchvision when it is installed
    from transformers import Dinov2Config, Dinov2Model

    model = Dinov2Model(Dinov2Config(**DINOV2_BASE))
    if weights is not None:
        state = _load_state(Path(weights))
        state = {k.removeprefix("dinov2."): v for k, v in state.items()}
        model.load_state_dict(state, strict=True)
    return model.to(device).eval().requires_grad_(False)


def _load_state(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    return torch.load(str(path), map_location="cpu", weights_only=True)


def preprocess(images: np.ndarray, device: str = "cpu") -> Any:
    """The pixel_values dinov2-base's slow image processor gives for uint8 RGB images."""
    return hf_rescale_normalize(resize_crop(images, RESIZE_SHORTEST, CROP, hf_crop=True),
                                IMAGENET_MEAN, IMAGENET_STD, device)


def embed(model: Any, images: np.ndarray, device: str = "cpu", half: bool = False) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 768) float32: mean of last_hidden_state over all tokens."""
    import torch

    from svgarena.scoring._torch import autocast

    if len(images) == 0:
        return np.zeros((0, DINOV2_BASE["hidden_size"]), dtype=np.float32)
    with torch.inference_mode(), autocast(device, half):
        out = model(pixel_values=preprocess(images, device)).last_hidden_state
        feats = out.float().mean(dim=1)
    return feats.cpu().numpy()


def dino_score(ref_feats: np.ndarray, pred_feats: np.ndarray) -> np.ndarray:
    """(cos + 1) / 2 per row, as SArena's ``nn.CosineSimilarity(dim=1)`` (eps 1e-8) computes cos."""
    import torch

    a, b = torch.from_numpy(np.asarray(ref_feats)), torch.from_numpy(np.asarray(pred_feats))
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-8)
    return ((cos.double() + 1) / 2).numpy()
