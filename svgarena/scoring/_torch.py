"""Torch plumbing shared by the neural metrics: lazy import, the torchvision shim, device choice.

Nothing here is imported by ``svgarena.scoring`` at import time; each function imports torch
when called, so ``svgarena --help`` and the pixel metrics never pay for it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_SHIM_LOCK = threading.Lock()
_SHIM_LIB: Any = None  # keeps the torch.library fragment alive for the life of the process


def import_torchvision() -> Any:
    """Import torchvision beside whatever torch is installed.

    torchvision's wheel registers fake kernels for ``torchvision::nms`` / ``qnms`` at import; when
    its compiled extension cannot load (a CUDA torchvision wheel beside a CPU torch, as here) those
    operators were never defined and the import fails. If the extension loads, nothing is changed;
    otherwise the two schemas are defined first (their kernels are never called by svgarena).
    """
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    global _SHIM_LIB
    import torch

    with _SHIM_LOCK:
        if "torchvision" in sys.modules:
            return sys.modules["torchvision"]
        spec = importlib.util.find_spec("torchvision")
        if spec is None or spec.origin is None:
            raise ImportError("torchvision is not installed; run scripts/setup.sh (it pins torchvision==0.28.0)")
        loaded = False
        for lib in sorted(Path(spec.origin).parent.glob("_C*.so")) + sorted(Path(spec.origin).parent.glob("_C*.pyd")):
            try:
                torch.ops.load_library(str(lib))
                loaded = True
            except (OSError, RuntimeError, ImportError):
                pass
            break
        if not loaded and _SHIM_LIB is None:
            missing = [op for op in ("nms", "qnms") if not _has_schema(f"torchvision::{op}")]
            if missing:
                _SHIM_LIB = torch.library.Library("torchvision", "FRAGMENT")
                for op in missing:
                    _SHIM_LIB.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import torchvision

        return torchvision


def _has_schema(qualname: str) -> bool:
    import torch

    try:
        torch._C._dispatch_find_schema_or_throw(qualname, "")
        return True
    except RuntimeError:
        return False


def resolve_device(device: str | None = None) -> str:
    """``auto``/None picks CUDA when present, else CPU; an explicit CUDA request without CUDA is an error."""
    import torch

    wanted = (device or "auto").strip().lower()
    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine (use --device cpu or auto)")
        return wanted
    if wanted in ("cpu", "mps"):
        return wanted
    raise ValueError(f"--device {device}: expected auto, cpu, cuda or cuda:N")


def autocast(device: str, half: bool) -> contextlib.AbstractContextManager:
    """fp16 autocast on CUDA when ``half`` is asked for; a no-op otherwise (fp32, the parity default)."""
    if not half:
        return contextlib.nullcontext()
    import torch

    if not device.startswith("cuda"):
        raise ValueError("--half needs a CUDA device; on CPU the metrics run in fp32")
    return torch.autocast(device_type="cuda", dtype=torch.float16)


def quiet_loggers(*names: str) -> None:
    """Silence libraries that log 'initialised randomly' when svgarena loads weights itself."""
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
