"""svgarena.scoring: how answers are judged: SArena's metrics, their checkpoints, scoring passes.

Importing this package never imports torch: the neural metrics load it when a pass prepares them.
"""

from svgarena.scoring._batch import Batch, ScoringItem
from svgarena.scoring._frechet import FeatureStats, frechet_distance, frechet_from_features
from svgarena.scoring._metrics import METRICS, Metric, ScoringContext, SetScore, register_metric
from svgarena.scoring._pass import Group, PassReport, Sink, run_pass, runner_metrics
from svgarena.scoring._pixel import black_image, load_image, psnr, psnr_batch, ssim, ssim_batch
from svgarena.scoring._scorer import COMPUTED_METRICS, SampleScore, aggregate, score_sample
from svgarena.scoring._tokens import (
    TokenCounter,
    TokenizerUnavailable,
    as_read_back,
    build_smollm2_tokenizer,
    get_token_counter,
    smollm2_gguf_path,
)
from svgarena.scoring._torch import resolve_device
from svgarena.scoring import _fvd, _viclip  # noqa: F401,E402 - they register ViCLIP/FVD metrics and checkpoints
from svgarena.scoring._weights import (
    CHECKPOINTS,
    WEIGHTS_ENV,
    Checkpoint,
    CheckpointCorrupt,
    CheckpointMissing,
    VerifyResult,
    checkpoints_for,
    register_checkpoint,
)

__all__ = [
    "Batch",
    "CHECKPOINTS",
    "COMPUTED_METRICS",
    "Checkpoint",
    "CheckpointCorrupt",
    "CheckpointMissing",
    "FeatureStats",
    "Group",
    "METRICS",
    "Metric",
    "PassReport",
    "ScoringContext",
    "ScoringItem",
    "SetScore",
    "Sink",
    "VerifyResult",
    "WEIGHTS_ENV",
    "checkpoints_for",
    "frechet_distance",
    "frechet_from_features",
    "register_checkpoint",
    "register_metric",
    "resolve_device",
    "run_pass",
    "runner_metrics",
    "SampleScore",
    "TokenCounter",
    "TokenizerUnavailable",
    "aggregate",
    "black_image",
    "build_smollm2_tokenizer",
    "as_read_back",
    "get_token_counter",
    "load_image",
    "psnr",
    "psnr_batch",
    "score_sample",
    "smollm2_gguf_path",
    "ssim",
    "ssim_batch",
]
