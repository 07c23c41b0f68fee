"""svgarena.scoring: how answers are judged (SArena's pixel metrics, accuracy, token length)."""

from svgarena.scoring._pixel import black_image, load_image, psnr, psnr_batch, ssim, ssim_batch
from svgarena.scoring._scorer import COMPUTED_METRICS, SampleScore, aggregate, score_sample
from svgarena.scoring._tokens import (
    TokenCounter,
    TokenizerUnavailable,
    build_smollm2_tokenizer,
    get_token_counter,
    smollm2_gguf_path,
)

__all__ = [
    "COMPUTED_METRICS",
    "SampleScore",
    "TokenCounter",
    "TokenizerUnavailable",
    "aggregate",
    "black_image",
    "build_smollm2_tokenizer",
    "get_token_counter",
    "load_image",
    "psnr",
    "psnr_batch",
    "score_sample",
    "smollm2_gguf_path",
    "ssim",
    "ssim_batch",
]
