"""OpenAI CLIP through open_clip: ViT-L/14 for CLIP-T2I / CLIP-I2I, ViT-B/32 features for FID-C.

CLIP score reference: SArena ``metrics/CLIP_Score.py`` calls torchmetrics' ``_clip_score_update``
with Hugging Face ``openai/clip-vit-large-patch14``: image embedding of the prediction against the
caption's text embedding (T2I) or the reference image's embedding (I2I), both L2-normalised,
score = 100 * cosine. svgarena uses the same OpenAI ViT-L/14 weights through open_clip_torch
(the OpenAI ``ViT-L-14.pt`` file, QuickGELU), the OpenAI preprocessing (PIL bicubic resize of the
shortest edge to 224, centre crop 224, x/255, CLIP mean/std; Hugging Face's CLIPProcessor does
the same resize on the same uint8 values: ``CLIP_Score.py:49`` feeds ``ToTensor()(img) * 255``,
which gives back every uint8 value exactly in float32, and the processor turns it into a PIL image) and open_clip's BPE (the same vocabulary and merges).

Per-sample value, as the reference computes it: ``CLIP_Score.py:50`` and ``:56`` keep
``_clip_score_update(...)[0]``, i.e. ``100 * (source * target).sum(-1)`` of the normalised
features (torchmetrics ``functional/multimodal/clip_score.py`` ``_clip_score_update``), and
``:63`` averages those values. torchmetrics' clamp ``max(score, 0)`` lives only in its public
``clip_score()`` / ``CLIPScore.compute()``, which SArena never calls: so no clamp, per sample or
on the mean (SARENA.md's ``max(cos, 0)`` is torchmetrics' documented formula, not what the
published script runs). A negative cosine stays negative.

Captions longer than the context: torchmetrics ``_get_features`` tokenises with padding and no
truncation, then cuts ``input_ids`` at ``max_position_embeddings`` (77), which drops the
end-of-text token; the text tower then pools at ``input_ids.argmax()`` (Hugging Face CLIP with
the OpenAI configs' legacy ``eos_token_id == 2``), the highest id among the 77 kept. svgarena
builds the same ids (:func:`tokenize_like_reference`) and open_clip pools at the same argmax.

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


def tokenize_like_reference(texts: list[str], context_length: int = 77) -> Any:
    """``[SOT] + BPE + [EOT]`` per text, cut at ``context_length`` with no EOT put back (torchmetrics
    ``_get_features``: ``input_ids[..., :max_position_embeddings]``), zero-padded; (N, context_length) long."""
    import torch
    from open_clip.tokenizer import _tokenizer as tok

    out = torch.zeros(len(texts), context_length, dtype=torch.long)
    for i, text in enumerate(texts):
        ids = ([tok.sot_token_id] + tok.encode(text) + [tok.eot_token_id])[:context_length]
        out[i, :len(ids)] = torch.tensor(ids)
    return out


def encode_texts(model: Any, texts: list[str], device: str = "cpu", half: bool = False) -> np.ndarray:
    """(N, D) ``encode_text`` features of captions tokenised as the reference does (see module doc)."""
    import torch

    from svgarena.scoring._torch import autocast, import_torchvision

    import_torchvision()
    tokens = tokenize_like_reference(texts, context_length=model.context_length).to(device)
    with torch.inference_mode(), autocast(device, half):
        feats = model.encode_text(tokens)
    return feats.float().cpu().numpy()


def clip_score(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """100 * cos per row of two feature matrices (each L2-normalised first), unclamped as the reference keeps it."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return 100.0 * (a * b).sum(axis=1)
