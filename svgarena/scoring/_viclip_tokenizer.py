"""CLIP's byte-level BPE tokenizer, as ViCLIP's text encoder uses it.

ViCLIP (``viclip_text.py: CLIP_TEXT.tokenize``) tokenises with OpenAI CLIP's ``SimpleTokenizer``
over ``bpe_simple_vocab_16e6.txt.gz`` and a context of 32: ``[SOT] + encode(text) + [EOT]``,
and a longer sequence is cut to 32 tokens whose last one is replaced by EOT; shorter ones are
padded with 0. This module is svgarena's own implementation of that tokenizer. It reads the
vocabulary file that the ``open_clip_torch`` wheel ships (byte-identical to the one in
SArena's repository) straight from the installed package folder, without importing
``open_clip`` (whose import pulls in torchvision).

Text cleaning is CLIP's: ``ftfy.fix_text``, HTML unescaped twice, whitespace runs collapsed,
lower-cased. ``ftfy`` and ``regex`` are dependencies of ``open_clip_torch``.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
CONTEXT_LENGTH = 32  # ViCLIP's max_txt_l
_N_MERGES = 49152 - 256 - 2  # CLIP keeps the first 48894 merges of the file
_SOT = "<|startoftext|>"
_EOT = "<|endoftext|>"
_PATTERN = (
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
)


class TokenizerVocabMissing(FileNotFoundError):
    """CLIP's BPE vocabulary file cannot be found (open_clip_torch is not installed)."""


def clip_vocab_path() -> Path:
    """Where ``bpe_simple_vocab_16e6.txt.gz`` lies inside the installed ``open_clip`` package."""
    spec = importlib.util.find_spec("open_clip")  # locates the package without running it
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / VOCAB_FILE
        if path.is_file():
            return path
    raise TokenizerVocabMissing(
        f"CLIP's BPE vocabulary {VOCAB_FILE} was not found: install open_clip_torch "
        "(`pip install open_clip_torch`), which ships it"
    )


@lru_cache(maxsize=1)
def _byte_alphabet() -> dict[int, str]:
    """CLIP's reversible map from the 256 byte values to printable unicode characters."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    out = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def _clean(text: str) -> str:
    import ftfy
    import regex

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


class ClipBPETokenizer:
    """Text -> CLIP BPE ids; ``__call__`` gives ViCLIP's fixed-length, truncated id matrix."""

    def __init__(self, vocab_path: str | Path | None = None) -> None:
        import regex

        path = Path(vocab_path) if vocab_path is not None else clip_vocab_path()
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        merges = [tuple(line.split()) for line in lines[1 : _N_MERGES + 1]]
        alphabet = list(_byte_alphabet().values())
        vocab = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + [_SOT, _EOT]
        self.encoder: dict[str, int] = {tok: i for i, tok in enumerate(vocab)}
        self.ranks: dict[tuple[str, str], int] = {m: i for i, m in enumerate(merges)}
        self.sot = self.encoder[_SOT]
        self.eot = self.encoder[_EOT]
        self._bytes = _byte_alphabet()
        self._pattern = regex.compile(_PATTERN, regex.IGNORECASE)
        self._cache: dict[str, list[str]] = {_SOT: [_SOT], _EOT: [_EOT]}

    def _bpe(self, word: str) -> list[str]:
        """Merge the characters of one pre-token by merge rank, lowest first."""
        if word in self._cache:
            return self._cache[word]
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = {(a, b) for a, b in zip(parts, parts[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._cache[word] = parts
        return parts

    def encode(self, text: str) -> list[int]:
        """BPE ids of ``text`` (cleaned and lower-cased as CLIP does), without SOT/EOT."""
        ids: list[int] = []
        for piece in self._pattern.findall(_clean(text)):
            word = "".join(self._bytes[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[tok] for tok in self._bpe(word))
        return ids

    def __call__(self, texts: str | Sequence[str], context_length: int = CONTEXT_LENGTH):
        """(N, context_length) int64 tensor: SOT, ids, EOT, zero padding; over-long rows end in EOT."""
        import torch

        if isinstance(texts, str):
            texts = [texts]
        out = torch.zeros(len(texts), context_length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot]
            if len(ids) > context_length:
                ids = ids[:context_length]
                ids[-1] = self.eot
            out[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out
