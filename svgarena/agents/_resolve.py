"""Turn a model name into a Model: a built-in baseline or a LiteLLM route."""

from __future__ import annotations

from typing import Any

from svgarena.agents._baselines import BlankBaseline, OracleBaseline, VTracerBaseline
from svgarena.agents._litellm import LiteLLMModel
from svgarena.agents._types import Model

_BASELINE_TYPES: dict[str, type] = {
    OracleBaseline.name: OracleBaseline,
    BlankBaseline.name: BlankBaseline,
    VTracerBaseline.name: VTracerBaseline,
}
BASELINES: tuple[str, ...] = tuple(_BASELINE_TYPES)


def get_model(name: str, **settings: Any) -> Model:
    """The Model for a name: ``baseline/<x>`` is a built-in baseline, anything else a LiteLLM route.

    ``settings`` are LiteLLMModel's keyword arguments (api_base, api_key_env, temperature,
    max_tokens, timeout_s, extra); baselines have no generation settings and ignore them.
    """
    if name.startswith("baseline/"):
        try:
            return _BASELINE_TYPES[name]()
        except KeyError:
            raise ValueError(f"unknown baseline {name!r}; the baselines are {', '.join(BASELINES)}.") from None
    if not name.strip():
        raise ValueError("empty model name; give a LiteLLM route such as openai/gpt-4o or a baseline.")
    return LiteLLMModel(name, **settings)
