"""Image preprocessing of the published scorers, batched, with their exact arithmetic.

SArena hands PIL images to each library: Hugging Face's (slow) image processor for DINO,
open_clip/OpenAI-CLIP transforms for CLIP, torchvision ``ToTensor`` (+ ``Normalize``) for LPIPS
and Inception. Those resize with PIL (bicubic, on uint8) and then scale to float. The functions
here do the same PIL resize per image (in threads: PIL releases the GIL) and the float steps
batched in torch, in the same order and precision, so the tensors are identical.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        import os

        _POOL = ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1)), thread_name_prefix="svgarena-pre")
    return _POOL


def resize_shortest(h: int, w: int, short: int) -> tuple[int, int]:
    """Output (height, width) of a shortest-edge resize (HF ``get_resize_output_image_size`` with
    ``default_to_square=False``, and torchvision ``Resize(int)``: both ``int(short * long / s)``)."""
    if w <= h:
        return int(short * h / w), short
    return short, int(short * w / h)


def _one(img: np.ndarray, short: int, crop: int, hf_crop: bool) -> np.ndarray:
    from PIL import Image

    h, w = img.shape[:2]
    nh, nw = resize_shortest(h, w, short)
    if (nh, nw) != (h, w):
        img = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.BICUBIC))
    if hf_crop:  # transformers.image_transforms.center_crop
        top, left = (nh - crop) // 2, (nw - crop) // 2
    else:  # torchvision.transforms.functional.center_crop
        top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
    if top < 0 or left < 0:
        raise ValueError(f"image of {h}x{w} is smaller than the {crop}px crop after resizing")
    return img[top:top + crop, left:left + crop]


def resize_crop(images: np.ndarray, short: int, crop: int, *, hf_crop: bool) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, crop, crop, 3) uint8: PIL bicubic shortest-edge resize, centre crop."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected (N, H, W, 3) uint8 images, got {images.shape} {images.dtype}")
    if len(images) == 0:
        return np.zeros((0, crop, crop, 3), dtype=np.uint8)
    if len(images) == 1:
        return _one(images[0], short, crop, hf_crop)[None]
    parts = list(_pool().map(lambda im: _one(im, short, crop, hf_crop), images))
    return np.stack(parts)


def to_chw_float(images: np.ndarray, device: str = "cpu") -> Any:
    """torchvision ``ToTensor`` batched: uint8 NHWC -> float32 NCHW in [0, 1] (``x.float() / 255``)."""
    import torch

    t = torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device)
    return t.permute(0, 3, 1, 2).float().div(255)


def normalize(t: Any, mean: tuple[float, ...], std: tuple[float, ...]) -> Any:
    """torchvision ``Normalize`` (float32 ``(t - mean) / std``)."""
    import torch

    m = torch.tensor(mean, dtype=t.dtype, device=t.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=t.dtype, device=t.device).view(1, -1, 1, 1)
    return (t - m) / s


def hf_rescale_normalize(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...],
                         device: str = "cpu") -> Any:
    """Hugging Face slow image processor's ``rescale`` then ``normalize``: float64 ``x * (1/255)``
    cast to float32, then float32 ``(x - mean) / std``; returns NCHW float32."""
    import torch

    t = torch.from_numpy(np.require(images, requirements=["C", "W"])).to(device)
    t = (t.permute(0, 3, 1, 2).double() * (1 / 255)).float()
    return normalize(t, mean, std)
