"""Turn a model name into a Model: a built-in baseline, a registry name, or a LiteLLM route."""

from __future__ import annotations

from typing import Any

from svgarena.agents._baselines import BlankBaseline, OracleBaseline, VTracerBaseline
from svgarena.agents._direct import DirectModel
from svgarena.agents._litellm import LiteLLMModel
from svgarena.agents._registry import Registry, RegistryError, load_registry
from svgarena.agents._types import Model

_BASELINE_TYPES: dict[str, type] = {
    OracleBaseline.name: OracleBaseline,
    BlankBaseline.name: BlankBaseline,
    VTracerBaseline.name: VTracerBaseline,
}
BASELINES: tuple[str, ...] = tuple(_BASELINE_TYPES)


def get_model(name: str, registry: Registry | None = None, **settings: Any) -> Model:
    """The Model for a name.

    ``baseline/<x>`` is a built-in baseline; a registry name (``gpt-4o``, ``internsvg-8b``, a name
    from a models file) is its LiteLLM route with the registry's settings; anything else with a
    slash is a bare LiteLLM route. ``settings`` are LiteLLMModel's keyword arguments and override
    the registry's; baselines ignore them. With no ``registry`` the default lookup order is used.
    """
    if name.startswith("baseline/"):
        try:
            return _BASELINE_TYPES[name]()
        except KeyError:
            raise ValueError(f"unknown baseline {name!r}; the baselines are {', '.join(BASELINES)}.") from None
    if not name.strip():
        raise ValueError("empty model name; give a LiteLLM route such as openai/gpt-4o or a baseline.")
    spec = (registry or load_registry()).get(name)
    if spec is not None:
        cls = DirectModel if spec.client == "direct" else LiteLLMModel
        return cls(spec.route, **{**LiteLLMModel.spec_kwargs(spec), **settings})
    if "/" not in name:
        raise RegistryError(f"unknown model {name!r}: not in the model registry (svgarena models list shows it) "
                            "and not a LiteLLM route of the form provider/model.")
    return LiteLLMModel(name, **settings)
