"""ViCLIP (InternVid's video CLIP) as an nn.Module whose state_dict is the checkpoint's, name for name.

The architecture follows OpenGVLab's ``viclip.py`` / ``viclip_vision.py`` / ``viclip_text.py``
(copied into SArena as ``metrics/video/viclip/``); the code here is svgarena's own:

* vision: ViT-L/14 (width 1024, 24 blocks, 16 heads) over 224x224 frames. A Conv3d with a
  (1, 14, 14) kernel patches every frame; each patch token gets the spatial position embedding
  and then the temporal one (``temporal_positional_embedding``, one per frame, 8 frames); one
  class token (class embedding + spatial position 0, no temporal embedding) leads the
  1 + 256 * 8 tokens; after ``ln_post`` the class token is projected to 768.
  Drop-path rates rise linearly from 0 to 0.1 over the 24 blocks (active only in training).
* text: CLIP-L/14's text transformer (width 768, 12 blocks, 12 heads, causal) with a 32-token
  context; the feature is the EOT token's (the largest id in the row) after ``ln_final``,
  projected by ``text_projection`` (768 -> 768).
* ``temp``: the contrastive temperature (a scalar, unused at inference but in the checkpoint).

Attention is written with ``scaled_dot_product_attention`` over the same parameters that
``nn.MultiheadAttention`` names (``in_proj_weight``, ``in_proj_bias``, ``out_proj``), so the
checkpoint of ``ViClip-InternVid-10M-FLT.pth`` loads with ``strict=True``. LayerNorms compute in
float32 so half precision is safe. Randomly initialised weights (for tests and benchmarks) use
CLIP's initialisation scales.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ViCLIPConfig:
    """Sizes of ViCLIP-L/14 as trained on InternVid-10M-FLT."""

    image_size: int = 224
    patch_size: int = 14
    frames: int = 8
    vision_width: int = 1024
    vision_layers: int = 24
    vision_heads: int = 16
    drop_path: float = 0.1
    embed_dim: int = 768
    context_length: int = 32
    vocab_size: int = 49408
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12


class _LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the input dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).to(x.dtype)


class _DropPath(nn.Module):
    """Stochastic depth: drops a block's residual branch per sample, in training mode only."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate <= 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class _Attention(nn.Module):
    """Multi-head self-attention over (B, L, D), parameters named as nn.MultiheadAttention's."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        b, n, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class _MLP(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)
        return self.c_proj(h * torch.sigmoid(1.702 * h))  # QuickGELU, as CLIP was trained


class _Block(nn.Module):
    def __init__(self, width: int, heads: int, drop_path: float = 0.0) -> None:
        super().__init__()
        self.ln_1 = _LayerNorm(width)
        self.attn = _Attention(width, heads)
        self.ln_2 = _LayerNorm(width)
        self.mlp = _MLP(width)
        self.drop_path = _DropPath(drop_path)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.ln_1(x), causal))
        return x + self.drop_path(self.mlp(self.ln_2(x)))


class _Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, drop_path: float = 0.0) -> None:
        super().__init__()
        rates = torch.linspace(0, drop_path, layers).tolist() if layers > 1 else [drop_path]
        self.resblocks = nn.ModuleList(_Block(width, heads, r) for r in rates)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        for block in self.resblocks:
            x = block(x, causal)
        return x


class ViCLIPVision(nn.Module):
    """Video (B, T, 3, H, W), ImageNet-normalised -> (B, embed_dim) unnormalised features."""

    def __init__(self, cfg: ViCLIPConfig) -> None:
        super().__init__()
        w, p = cfg.vision_width, cfg.patch_size
        grid = cfg.image_size // p
        scale = w**-0.5
        self.frames = cfg.frames
        self.conv1 = nn.Conv3d(3, w, (1, p, p), (1, p, p), bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(w))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, w))
        self.temporal_positional_embedding = nn.Parameter(torch.zeros(1, cfg.frames, w))
        self.ln_pre = _LayerNorm(w)
        self.transformer = _Transformer(w, cfg.vision_layers, cfg.vision_heads, cfg.drop_path)
        self.ln_post = _LayerNorm(w)
        self.proj = nn.Parameter(scale * torch.randn(w, cfg.embed_dim))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        if video.ndim != 5:
            raise ValueError(f"expected a video batch (B, T, 3, H, W), got shape {tuple(video.shape)}")
        x = self.conv1(video.transpose(1, 2))  # (B, width, T, grid, grid)
        b, c, t, gh, gw = x.shape
        if t not in (1, self.frames):
            raise ValueError(f"ViCLIP takes {self.frames} frames (or 1), got {t}")
        x = x.permute(0, 3, 4, 2, 1).reshape(b, gh * gw, t, c)  # patch-major, frame-minor
        x = x + self.positional_embedding[1:].to(x.dtype).unsqueeze(1)
        temporal = self.temporal_positional_embedding.to(x.dtype)  # (1, frames, width)
        if t == 1:  # a single image: the mean temporal embedding, as the reference does
            temporal = temporal.mean(1, keepdim=True)
        x = x + temporal.unsqueeze(1)
        x = x.reshape(b, gh * gw * t, c)
        cls = (self.class_embedding + self.positional_embedding[0]).to(x.dtype).expand(b, 1, c)
        x = self.ln_pre(torch.cat([cls, x], dim=1))
        x = self.transformer(x)
        return self.ln_post(x[:, 0]) @ self.proj.to(x.dtype)


class ViCLIPText(nn.Module):
    """Token ids (B, L <= context) -> (B, embed_dim) unnormalised features (the EOT token's)."""

    def __init__(self, cfg: ViCLIPConfig) -> None:
        super().__init__()
        w = cfg.text_width
        self.context_length = cfg.context_length
        self.token_embedding = nn.Embedding(cfg.vocab_size, w)
        self.positional_embedding = nn.Parameter(torch.empty(cfg.context_length, w))
        self.transformer = _Transformer(w, cfg.text_layers, cfg.text_heads)
        self.ln_final = _LayerNorm(w)
        self.text_projection = nn.Parameter(torch.empty(w, cfg.embed_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim != 2 or tokens.shape[1] > self.context_length:
            raise ValueError(f"expected token ids (B, <= {self.context_length}), got shape {tuple(tokens.shape)}")
        n = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positional_embedding[:n].to(self.token_embedding.weight.dtype)
        x = self.transformer(x, causal=True)
        eot = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
        return self.ln_final(eot) @ self.text_projection.to(x.dtype)


class ViCLIP(nn.Module):
    """ViCLIP-L/14: ``vision_encoder``, ``text_encoder`` and ``temp``, as in the checkpoint."""

    def __init__(self, cfg: ViCLIPConfig | None = None) -> None:
        super().__init__()
        self.config = cfg or ViCLIPConfig()
        self.vision_encoder = ViCLIPVision(self.config)
        self.text_encoder = ViCLIPText(self.config)
        self.temp = nn.Parameter(torch.ones([]) / 100.0)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """CLIP's initialisation scales (for random-weight tests and benchmarks)."""
        for enc, width, layers in (
            (self.vision_encoder, self.config.vision_width, self.config.vision_layers),
            (self.text_encoder, self.config.text_width, self.config.text_layers),
        ):
            attn_std = width**-0.5
            proj_std = attn_std * (2 * layers) ** -0.5
            for block in enc.transformer.resblocks:
                nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
                nn.init.zeros_(block.attn.in_proj_bias)
                nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
                nn.init.zeros_(block.attn.out_proj.bias)
                nn.init.normal_(block.mlp.c_fc.weight, std=(2 * width) ** -0.5)
                nn.init.zeros_(block.mlp.c_fc.bias)
                nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
                nn.init.zeros_(block.mlp.c_proj.bias)
        text = self.text_encoder
        nn.init.normal_(text.token_embedding.weight, std=0.02)
        nn.init.normal_(text.positional_embedding, std=0.01)
        nn.init.normal_(text.text_projection, std=self.config.text_width**-0.5)

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) normalised frames -> (B, embed_dim) float32, L2-normalised."""
        return F.normalize(self.vision_encoder(video).float(), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) token ids -> (B, embed_dim) float32, L2-normalised."""
        return F.normalize(self.text_encoder(tokens).float(), dim=-1)
