"""The Renderer protocol: untrusted SVG in, pixels or a typed failure out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from svgarena.outcome import Outcome


@dataclass(frozen=True)
class RenderSpec:
    """How to render: output size (always forced), background and limits."""

    width: int = 448
    height: int = 448
    background: str = "white"
    timeout_s: float = 10.0  # VLMEvalKit treats a render slower than 10 s as a failure
    renderer: str = "cairosvg"


@dataclass
class RenderResult:
    """An RGB uint8 image of shape (height, width, 3), or a typed failure with its reason."""

    outcome: Outcome
    image: np.ndarray | None = None
    reason: str = ""
    seconds: float = 0.0
    renderer: str = "cairosvg"
    meta: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@runtime_checkable
class Renderer(Protocol):
    """Anything that renders SVG text inside a boundary the SVG cannot escape."""

    name: str

    async def render(self, svg: str, spec: RenderSpec | None = None) -> RenderResult: ...

    async def close(self) -> None: ...
