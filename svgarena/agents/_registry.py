"""The model registry: short names mapped to LiteLLM parameters, from YAML files and built-ins.

A name is looked up, first match wins, in: ``--models-file``, ``./svgarena.models.yaml``, the user
config folder (``$SVGARENA_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/svgarena``, else
``~/.config/svgarena``) ``models.yaml``, the endpoints that ``svgarena serve`` registered there
(``served.json``, only while the serving process lives), then the built-ins. A file looks like::

    models:
      my-model:
        route: openai/my-model            # any LiteLLM route
        api_base: http://127.0.0.1:8000/v1
        api_key_env: MY_MODEL_KEY          # the NAME of the variable holding the key, never the key
        concurrency: 8                     # calls in flight (adapts down on 429s)
        price: {input: 0.5, output: 1.5}   # USD per million tokens; omit to use LiteLLM's price list
        accepts: {images: true, video: false, tools: false}   # video: false | file | video_url
        generation: {temperature: 0, max_tokens: 4000}
        timeout_s: 600                     # per call
        client: litellm                    # or direct: svgarena's lean OpenAI-compatible client (needs api_base)
        retries: {max: 5, base_s: 1.0, cap_s: 60}
        params: {top_p: 1.0}               # any other LiteLLM keyword
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

MODELS_FILE_NAME = "svgarena.models.yaml"
VIDEO_FORMATS = ("file", "video_url")  # LiteLLM's file part (Gemini), or vLLM's video_url part


class RegistryError(ValueError):
    """A models file that cannot be used, or a name that is not known; the message says what to fix."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything svgarena needs to call one model. Holds the key's variable name, never a key."""

    name: str
    route: str
    api_base: str | None = None
    api_key_env: str | None = None
    concurrency: int = 8
    input_usd_per_mtok: float | None = None  # None: LiteLLM's price list decides
    output_usd_per_mtok: float | None = None
    images: bool = True
    video: str | None = None  # None: frames as images; "file" or "video_url": native video parts
    tools: bool = False
    temperature: float = 0.0
    max_tokens: int = 4000
    timeout_s: float = 600.0
    max_retries: int = 5
    retry_base_s: float = 1.0
    retry_cap_s: float = 60.0
    params: dict[str, Any] = field(default_factory=dict)
    client: str = "litellm"  # or "direct": svgarena's own OpenAI-compatible client, for busy local servers
    source: str = "built-in"

    @property
    def priced(self) -> bool:
        return self.input_usd_per_mtok is not None and self.output_usd_per_mtok is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The paper's models with public APIs, and the local servers `svgarena serve` starts. Prices are
# the providers' list prices in USD per million tokens (set explicitly: LiteLLM's bundled list
# lags behind and prices some of these at zero); local servers cost nothing per token.
# accepts.tools: native function calling (the tools solver's native path). The commercial APIs have
# it; InternSVG-8B on LMDeploy and SmolLM2 on llama-cpp-python are served without a tool parser, and
# a bare route has no entry to say so: all of those use the tools solver's text protocol.
BUILTIN_MODELS: dict[str, dict[str, Any]] = {
    "gpt-4o": {"route": "openai/gpt-4o", "api_key_env": "OPENAI_API_KEY", "concurrency": 16,
               "price": {"input": 2.50, "output": 10.00}, "accepts": {"images": True, "tools": True}},
    "gpt-4o-mini": {"route": "openai/gpt-4o-mini", "api_key_env": "OPENAI_API_KEY", "concurrency": 16,
                    "price": {"input": 0.15, "output": 0.60}, "accepts": {"images": True, "tools": True}},
    "claude-sonnet-4": {"route": "anthropic/claude-sonnet-4-20250514", "api_key_env": "ANTHROPIC_API_KEY",
                        "concurrency": 8, "price": {"input": 3.00, "output": 15.00},
                        "accepts": {"images": True, "tools": True}},
    "gemini-2.5-flash": {"route": "gemini/gemini-2.5-flash", "api_key_env": "GEMINI_API_KEY", "concurrency": 16,
                         "price": {"input": 0.30, "output": 2.50},
                         "accepts": {"images": True, "video": "file", "tools": True}},
    "gemini-2.5-pro": {"route": "gemini/gemini-2.5-pro", "api_key_env": "GEMINI_API_KEY", "concurrency": 8,
                       "price": {"input": 1.25, "output": 10.00},
                       "accepts": {"images": True, "video": "file", "tools": True}},
    "internsvg-8b": {"route": "openai/internsvg-8b", "api_base": "http://127.0.0.1:23333/v1", "concurrency": 64,
                     "price": {"input": 0.0, "output": 0.0}, "accepts": {"images": True, "tools": False}},
    "smollm2": {"route": "openai/smollm2", "api_base": "http://127.0.0.1:8090/v1", "concurrency": 1,
                "price": {"input": 0.0, "output": 0.0}, "accepts": {"images": False, "tools": False},
                "generation": {"temperature": 0.0, "max_tokens": 512}, "timeout_s": 300},
}

_TOP_KEYS = {"route", "api_base", "api_key_env", "concurrency", "price", "accepts", "generation", "timeout_s",
             "retries", "params", "client"}
_SECRET_KEYS = {"api_key", "key", "token", "secret", "password", "authorization"}


def config_dir() -> Path:
    """The user config folder: ``$SVGARENA_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/svgarena``, else ~/.config/svgarena."""
    if os.environ.get("SVGARENA_CONFIG_DIR"):
        return Path(os.environ["SVGARENA_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "svgarena"


def served_file() -> Path:
    return config_dir() / "served.json"


def parse_spec(name: str, entry: Any, source: str) -> ModelSpec:
    """One registry entry as a ModelSpec; any mistake is one RegistryError naming the file and the field."""
    where = f"{source}: model {name!r}"
    if not isinstance(entry, dict):
        raise RegistryError(f"{where} must be a mapping with at least a route")
    unknown = set(entry) - _TOP_KEYS
    if unknown & _SECRET_KEYS or _has_secret(entry.get("params") or {}):
        raise RegistryError(f"{where} holds an API key; put the key in an environment variable and name it with api_key_env")
    if unknown:
        raise RegistryError(f"{where} has unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_TOP_KEYS))}")
    route = entry.get("route")
    if not isinstance(route, str) or "/" not in route:
        raise RegistryError(f"{where} needs a route of the form provider/model (for example openai/gpt-4o)")
    kw: dict[str, Any] = {"name": name, "route": route, "source": source}
    for key in ("api_base", "api_key_env"):
        if entry.get(key) is not None:
            kw[key] = str(entry[key])
    try:
        if "concurrency" in entry:
            kw["concurrency"] = int(entry["concurrency"])
            if kw["concurrency"] < 1:
                raise ValueError("concurrency must be at least 1")
        if "timeout_s" in entry:
            kw["timeout_s"] = float(entry["timeout_s"])
        price = entry.get("price")
        if price is not None:
            if not isinstance(price, dict) or set(price) - {"input", "output"}:
                raise ValueError("price must be {input: USD per million tokens, output: USD per million tokens}")
            kw["input_usd_per_mtok"] = float(price.get("input", 0.0))
            kw["output_usd_per_mtok"] = float(price.get("output", 0.0))
        accepts = entry.get("accepts") or {}
        if set(accepts) - {"images", "video", "tools"}:
            raise ValueError("accepts takes images, video and tools")
        kw["images"] = bool(accepts.get("images", True))
        kw["tools"] = bool(accepts.get("tools", False))
        video = accepts.get("video", False)
        if video is True:
            video = "file"
        if video not in (False, None, *VIDEO_FORMATS):
            raise ValueError(f"accepts.video must be false, {' or '.join(VIDEO_FORMATS)}")
        kw["video"] = video or None
        generation = entry.get("generation") or {}
        if set(generation) - {"temperature", "max_tokens"}:
            raise ValueError("generation takes temperature and max_tokens (other settings go under params)")
        if "temperature" in generation:
            kw["temperature"] = float(generation["temperature"])
        if "max_tokens" in generation:
            kw["max_tokens"] = int(generation["max_tokens"])
        retries = entry.get("retries") or {}
        if set(retries) - {"max", "base_s", "cap_s"}:
            raise ValueError("retries takes max, base_s and cap_s")
        if "max" in retries:
            kw["max_retries"] = int(retries["max"])
        if "base_s" in retries:
            kw["retry_base_s"] = float(retries["base_s"])
        if "cap_s" in retries:
            kw["retry_cap_s"] = float(retries["cap_s"])
        client = entry.get("client", "litellm")
        if client not in ("litellm", "direct"):
            raise ValueError("client must be litellm or direct")
        if client == "direct" and not kw.get("api_base"):
            raise ValueError("client direct needs an api_base (an OpenAI-compatible server)")
        kw["client"] = client
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise ValueError("params must be a mapping of LiteLLM keyword arguments")
        kw["params"] = dict(params)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{where}: {exc}") from None
    return ModelSpec(**kw)


def _has_secret(params: dict[str, Any]) -> bool:
    return any(str(k).lower() in _SECRET_KEYS for k in params)


def load_file(path: Path) -> dict[str, ModelSpec]:
    """The models of one YAML file."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(f"cannot read models file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"models file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict) or set(data) - {"models"}:
        raise RegistryError(f"models file {path} must have one top-level key, models, mapping names to settings")
    return {str(n): parse_spec(str(n), e, str(path)) for n, e in (data.get("models") or {}).items()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def served_endpoints() -> dict[str, dict[str, Any]]:
    """Endpoints registered by running ``svgarena serve`` processes (stale ones, whose process died, are skipped)."""
    path = served_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {n: e for n, e in data.items() if isinstance(e, dict) and _pid_alive(int(e.get("pid", 0) or 0))}


def register_endpoint(name: str, api_base: str, route: str | None = None, pid: int | None = None) -> Path:
    """Record that ``name`` is served at ``api_base`` by process ``pid`` (this one by default)."""
    path = served_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = served_endpoints()
    data[name] = {"api_base": api_base, "pid": pid or os.getpid(), **({"route": route} if route else {})}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path


def unregister_endpoint(name: str, pid: int | None = None) -> None:
    """Forget ``name`` if it was registered by ``pid`` (this process by default)."""
    path = served_file()
    data = served_endpoints()
    entry = data.get(name)
    if entry is None or int(entry.get("pid", 0)) != (pid or os.getpid()):
        return
    del data[name]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


class Registry:
    """The merged view of every source; ``get`` finds a name, ``specs`` lists them in lookup order."""

    def __init__(self, layers: list[tuple[str, dict[str, ModelSpec]]]) -> None:
        self.layers = layers  # highest precedence first

    @property
    def specs(self) -> dict[str, ModelSpec]:
        merged: dict[str, ModelSpec] = {}
        for _, layer in reversed(self.layers):
            merged.update(layer)
        order = [n for _, layer in self.layers for n in layer]
        return {n: merged[n] for n in dict.fromkeys(order)}

    def get(self, name: str) -> ModelSpec | None:
        for _, layer in self.layers:
            if name in layer:
                return layer[name]
        return None

    def sources(self) -> list[str]:
        return [src for src, _ in self.layers]


def load_registry(models_file: str | Path | None = None, cwd: Path | None = None) -> Registry:
    """The registry as the lookup order defines it; a missing ``--models-file`` is an error, other files are optional."""
    layers: list[tuple[str, dict[str, ModelSpec]]] = []
    if models_file is not None:
        path = Path(models_file)
        if not path.is_file():
            raise RegistryError(f"models file {path} does not exist")
        layers.append((str(path), load_file(path)))
    local = (cwd or Path.cwd()) / MODELS_FILE_NAME
    if local.is_file() and (models_file is None or local.resolve() != Path(models_file).resolve()):
        layers.append((str(local), load_file(local)))
    user = config_dir() / "models.yaml"
    if user.is_file():
        layers.append((str(user), load_file(user)))
    builtins = {n: parse_spec(n, e, "built-in") for n, e in BUILTIN_MODELS.items()}
    served: dict[str, ModelSpec] = {}
    for name, entry in served_endpoints().items():
        base = builtins.get(name)
        route = entry.get("route") or (base.route if base else f"openai/{name}")
        spec = base or ModelSpec(name=name, route=route, input_usd_per_mtok=0.0, output_usd_per_mtok=0.0)
        served[name] = replace(spec, route=route, api_base=entry["api_base"], source=f"served (pid {entry['pid']})")
    if served:
        layers.append((str(served_file()), served))
    layers.append(("built-in", builtins))
    return Registry(layers)
