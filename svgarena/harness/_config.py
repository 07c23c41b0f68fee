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
    rounds: int = 3  # refine: most rounds per sample
    feedback: str = "render"  # refine: render | render+target | oracle | none
    select: str = "last"  # headline round: last | best-model | best-oracle
    samples: int = 1  # resample: answers per sample
    temperature: float | None = None  # recorded with the arm; None = the model's setting
    sample_max_tokens: int | None = None  # refine/resample: per-sample budgets ("sample budget: tokens|cost|time")
    sample_max_cost: float | None = None
    sample_time_limit: float | None = None  # seconds of wall-clock per trajectory
    stop_on: str | None = None  # "oracle-threshold": an oracle arm that stops once SSIM >= oracle_threshold
    oracle_threshold: float = 0.99
    max_tool_calls: int = 8  # tools: most tool calls per sample (malformed ones count)
    tool_protocol: str = "auto"  # tools: auto | native | text (auto: native where the registry says tools)
    limit: int | None = None  # samples per task
    epochs: int = 1
    concurrency: int | None = None  # calls in flight per model; None = the model registry's (8 for a bare route)
    models_file: str | None = None  # YAML model registry consulted before ./svgarena.models.yaml and the built-ins
    no_cache: bool = False  # True: ask every request again instead of answering repeats from the run's reply cache
    max_cost_usd: float | None = None  # stop starting model calls once the run has spent this much
    max_tokens: int | None = None  # ... or this many tokens (input + output, all models)
    video_frames: int = 8  # frames sent for a video input (models without native video)
    video_input: str = "official"  # video2sani frames: official (unlabelled JPEG q100, video_api.py) or labelled (PNG + timestamps)
    workers: int | None = None  # render workers; None = one per core
    render_timeout_s: float = 10.0
    backend: str = "local"  # where static renders run: local (jailed processes) or docker
    executor: str = "local"  # where renders and neural scoring run: local (worker pools) or ray (actors)
    ray_address: str | None = None  # --executor ray: auto, ray://host:port, or None for $RAY_ADDRESS / auto
    renderer: str = "cairosvg"  # static rasteriser: cairosvg (SArena's) or resvg
    animation_mode: str = "sarena-exact"  # or "fast": only the frames the metrics read
    extract_rule: str = "official"
    choice_rule: str = "official"
    choice_judge: str | None = None  # a model that cleans understanding replies first (un_clean_result.py)
    tokenizer: str | None = None
    seed: int = 0
    preflight: bool = True  # check keys and local endpoints before the run folder is created
    skip_unavailable: bool = False  # True: run the models preflight passes, note the others
    shard: str | None = None  # "K/N" (1-based): only the samples whose task + id hash to shard K of N
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
