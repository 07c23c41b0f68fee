"""OpenAI CLIP through open_clip: ViT-L/14 for CLIP-T2I / CLIP-I2I, ViT-B/32 features for FID-C.

CLIP score reference: SArena ``metrics/CLIP_Score.py`` calls torchmetrics' ``_clip_score_update``
with Hugging Face ``openai/clip-vit-large-patch14``: image embedding of the prediction against the
caption's text embedding (T2I) or the reference image's embedding (I2I), both L2-normalised,
score = 100 * cosine. svgarena uses the same OpenAI ViT-L/14 weights through open_clip_torch
(the OpenAI ``ViT-L-14.pt`` file, QuickGELU), the OpenAI preprocessing (PIL bicubic resize of the
shortest edge to 224, centre crop 224, x/255, CLIP mean/std; Hugging Face's CLIPProcessor does
the same resize on the same uint8 values) and open_clip's tokenizer (77 tokens).
Deliberate differences: (1) the per-sample score is 100 * max(cos, 0) as SARENA.md specifies;
the published code clamps only torchmetrics' dataset mean, never a sample, which differs only if
a cosine is negative (not seen for CLIP image/text pairs); (2) a caption longer than 77 tokens
is truncated with its end-of-text token kept (open_clip), where torchmetrics cuts the token ids
at 77 and drops it; SArena's captions are short BLIP captions, so this does not arise there.

FID-C reference: SArena ``metrics/FID.py`` with ``clip.load("ViT-B/32")`` and its preprocess;
features = ``encode_image`` (512-d, not normalised). OpenAI's ``clip.load`` on CUDA keeps the
weights in fp16, so the published FID-C features are fp16 ones; svgarena computes fp32 features
by default (``--half`` gives fp16 autocast).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from svgarena.scoring._preprocess import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, normalize, resize_crop, to_chw_float

_OPENAI_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")
_BUILD_LOCK = threading.Lock()


def build_clip(arch: str, weights: Path | None, device: str = "cpu") -> Any:
    """open_clip's ``arch`` ("ViT-L-14", "ViT-B-32") with QuickGELU, as OpenAI trained it; weights
    from OpenAI's ``.pt`` file (TorchScript archive or plain state dict), or random for tests."""
    from svgarena.scoring._torch import import_torchvision, quiet_loggers

    import_torchvision()
    quiet_loggers("root", "open_clip")
    import logging

    import open_clip

    with _BUILD_LOCK:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # open_clip warns 'initialized randomly' on the root logger
        try:
            model = open_clip.create_model(arch, pretrained=None, quick_gelu=True, device="cpu")
        finally:
            root.setLevel(level)
    if weights is not None:
        model.load_state_dict(load_openai_state(Path(weights)), strict=True)
    return model.float().to(device).eval().requires_grad_(False)


def load_openai_state(path: Path) -> dict:
    """State dict of an OpenAI CLIP file: their TorchScript archive, or a plain saved state dict."""
    import torch

    import warnings

    try:
        with warnings.catch_warnings():  # torch.jit.load is deprecated, but OpenAI ships TorchScript archives
            warnings.simplefilter("ignore", DeprecationWarning)
            state = torch.jit.load(str(path), map_location="cpu").state_dict()
    except RuntimeError:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        if "state_dict" in state:
            state = {k.removeprefix("module."): v for k, v in state["state_dict"].items()}
    state = dict(state)
    for key in _OPENAI_EXTRA_KEYS:
        state.pop(key, None)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def image_size(model: Any) -> int:
    size = model.visual.image_size
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def preprocess(model: Any, images: np.ndarray, device: str = "cpu") -> Any:
    """open_clip's OpenAI eval transform: Resize(224, bicubic), CenterCrop(224), ToTensor, Normalize."""
    size = image_size(model)
    crops = resize_crop(images, size, size, hf_crop=False)
    return normalize(to_chw_float(crops, device), OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)


def encode_images(model: Any, images: np.ndarray, device: str = "cpu", half: bool = False) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, D) float32 ``encode_image`` features (not normalised)."""
    import torch

    from svgarena.scoring._torch import autocast

    if len(images) == 0:
        return np.zeros((0, model.visual.output_dim), dtype=np.float32)
    with torch.inference_mode(), autocast(device, half):
        feats = model.encode_image(preprocess(model, images, device))
    return feats.float().cpu().numpy()


def encode_texts(model: Any, texts: list[str], device: str = "cpu", half: bool = False) -> np.ndarray:
    import open_clip
    import torch

    from svgarena.scoring._torch import autocast

    tokens = open_clip.tokenize(texts, context_length=model.context_length).to(device)
    with torch.inference_mode(), autocast(device, half):
        feats = model.encode_text(tokens)
    return feats.float().cpu().numpy()


def clip_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """100 * max(cos, 0) per row of two feature matrices (each L2-normalised first)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return 100.0 * np.maximum((a * b).sum(axis=1), 0.0)
