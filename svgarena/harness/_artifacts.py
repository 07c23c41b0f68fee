"""Content-addressed artifacts: every SVG, PNG and MP4 of a run stored once, by sha256."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import numpy as np


class ArtifactStore:
    """``artifacts/<aa>/<sha256>.<ext>`` under a run folder; writing the same bytes twice is a no-op."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes, ext: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path(digest, ext)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # unique per thread too: the runner writes artifacts from worker threads, the same bytes at once
            tmp = path.with_suffix(path.suffix + f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: a killed run never leaves a half-written artifact
        return f"{digest}.{ext}"

    def put_text(self, text: str, ext: str = "svg") -> str:
        return self.put(text.encode("utf-8"), ext)

    def put_png(self, image: np.ndarray) -> str:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG", optimize=False, compress_level=3)
        return self.put(buf.getvalue(), "png")

    def path(self, digest: str, ext: str | None = None) -> Path:
        if ext is None:
            digest, _, ext = digest.partition(".")
        return self.root / digest[:2] / f"{digest}.{ext}"

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()
