"""RunConfig: everything that defines a run, stored with it so a resume repeats it exactly."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


@dataclass
class RunConfig:
    suite: str = "sarena-mini"
    data: str | None = None
    tasks: list[str] = field(default_factory=list)  # glob patterns; empty = every task in the suite
    models: list[str] = field(default_factory=list)  # empty = the built-in baselines, each where it can
    solver: str = "direct"
    limit: int | None = None  # samples per task
    epochs: int = 1
    concurrency: int = 8  # calls in flight per model
    workers: int | None = None  # render workers; None = one per core
    render_timeout_s: float = 10.0
    animation_mode: str = "sarena-exact"  # or "fast": only the frames the metrics read
    extract_rule: str = "official"
    choice_rule: str = "first-letter"
    tokenizer: str | None = None
    seed: int = 0
    out: str = "runs"
    run_id: str = field(default_factory=new_run_id)

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / self.run_id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
