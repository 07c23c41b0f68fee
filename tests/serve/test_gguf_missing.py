"""`svgarena serve gguf` without the llama-cpp-python build says how to build it."""

from __future__ import annotations

import importlib.util

import pytest


def test_a_missing_llama_cpp_build_names_make_gguf(monkeypatch: pytest.MonkeyPatch) -> None:
    from svgarena.serve._commands import ServeError, require_llama_cpp_server

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("llama_cpp") else real(name, *a))
    with pytest.raises(ServeError, match="build it with `make gguf`"):
        require_llama_cpp_server()
