"""Checkpoint files of the real architectures with random weights, named as the manifest names them.

No real weights can be downloaded here, so tests write these into a temporary --weights-dir and
the metrics load them through their real loading code (strict key matching).
"""

from __future__ import annotations

from pathlib import Path

import torch

from svgarena.scoring._weights import CHECKPOINTS


def write_dino(wdir: Path) -> Path:
    from safetensors.torch import save_file

    from svgarena.scoring._dino import build_dino

    torch.manual_seed(0)
    path = wdir / CHECKPOINTS["dinov2-base"].filename
    save_file({k: v.contiguous() for k, v in build_dino(None).state_dict().items()}, str(path))
    return path


def write_vgg16(wdir: Path) -> Path:
    from svgarena.scoring._torch import import_torchvision

    tv = import_torchvision()
    torch.manual_seed(0)
    path = wdir / CHECKPOINTS["vgg16-imagenet"].filename
    torch.save(tv.models.vgg16(weights=None).state_dict(), path)
    return path


def write_clip(wdir: Path, arch: str) -> Path:
    """An OpenAI-style CLIP file: fp16 tensors plus the three metadata entries OpenAI's state dicts carry."""
    from svgarena.scoring._clip import build_clip

    torch.manual_seed(0)
    name = {"ViT-L-14": "clip-vit-l-14-openai", "ViT-B-32": "clip-vit-b-32-openai"}[arch]
    model = build_clip(arch, None)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    state["input_resolution"] = torch.tensor(224)
    state["context_length"] = torch.tensor(77)
    state["vocab_size"] = torch.tensor(49408)
    path = wdir / CHECKPOINTS[name].filename
    torch.save(state, path)
    return path


def write_inception(wdir: Path) -> Path:
    from svgarena.scoring._inception import _fid_inception
    from svgarena.scoring._torch import import_torchvision

    import_torchvision()
    torch.manual_seed(0)
    net = _fid_inception(None)
    for m in net.modules():  # variance-preserving init, so random features do not vanish over 40 layers
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    path = wdir / CHECKPOINTS["inception-fid"].filename
    torch.save(net.state_dict(), path)
    return path
