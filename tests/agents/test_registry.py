"""The model registry: YAML files, lookup order, built-ins, served endpoints, and clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from svgarena.agents import (
    BUILTIN_MODELS,
    LiteLLMModel,
    RegistryError,
    get_model,
    load_registry,
    register_endpoint,
    unregister_endpoint,
)
from svgarena.tasks import get_task


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = tmp_path / "config"
    monkeypatch.setenv("SVGARENA_CONFIG_DIR", str(cfg))
    monkeypatch.chdir(tmp_path)
    return cfg


def _yaml(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_builtins_cover_the_papers_api_models_and_local_servers() -> None:
    reg = load_registry()
    for name in ("gpt-4o", "claude-sonnet-4", "gemini-2.5-flash", "internsvg-8b", "smollm2"):
        assert name in reg.specs, name
    gpt = reg.get("gpt-4o")
    assert gpt.route == "openai/gpt-4o" and gpt.api_key_env == "OPENAI_API_KEY" and gpt.images
    assert (gpt.temperature, gpt.max_tokens) == (0.0, 4000)  # SArena's generation settings
    intern = reg.get("internsvg-8b")
    assert intern.api_base == "http://127.0.0.1:23333/v1" and intern.api_key_env is None
    assert (intern.input_usd_per_mtok, intern.output_usd_per_mtok) == (0.0, 0.0)  # local: priced explicitly
    assert reg.get("gemini-2.5-flash").video == "file"
    assert not reg.get("smollm2").images
    assert all(spec.priced for spec in reg.specs.values())
    assert set(BUILTIN_MODELS) == set(reg.specs)


def test_lookup_order_first_match_wins(tmp_path: Path, config_dir: Path) -> None:
    _yaml(config_dir / "models.yaml", "models:\n  gpt-4o: {route: openai/gpt-4o-user}\n  mine: {route: openai/user}\n"
                                      "  only-user: {route: openai/only-user}\n")
    _yaml(tmp_path / "svgarena.models.yaml", "models:\n  mine: {route: openai/cwd}\n  only-cwd: {route: openai/c}\n")
    explicit = _yaml(tmp_path / "elsewhere" / "m.yaml", "models:\n  mine:\n    route: openai/explicit\n")
    reg = load_registry(explicit)
    assert reg.get("mine").route == "openai/explicit" and reg.get("mine").source == str(explicit)
    assert reg.get("only-cwd").route == "openai/c"
    assert reg.get("only-user").route == "openai/only-user"
    assert reg.get("gpt-4o").route == "openai/gpt-4o-user"  # a user file overrides a built-in
    assert reg.get("claude-sonnet-4").source == "built-in"
    assert load_registry().get("mine").route == "openai/cwd"
    assert reg.sources()[0] == str(explicit) and reg.sources()[-1] == "built-in"


def test_every_field_is_parsed(tmp_path: Path) -> None:
    path = _yaml(tmp_path / "m.yaml", """
models:
  local-vlm:
    route: openai/qwen
    api_base: http://127.0.0.1:9999/v1
    api_key_env: MY_KEY
    concurrency: 3
    price: {input: 0.5, output: 1.5}
    accepts: {images: true, video: video_url, tools: true}
    generation: {temperature: 0.2, max_tokens: 123}
    timeout_s: 12
    retries: {max: 2, base_s: 0.1, cap_s: 3}
    params: {top_p: 0.9}
""")
    spec = load_registry(path).get("local-vlm")
    assert (spec.concurrency, spec.input_usd_per_mtok, spec.output_usd_per_mtok) == (3, 0.5, 1.5)
    assert (spec.video, spec.tools, spec.temperature, spec.max_tokens, spec.timeout_s) == ("video_url", True, 0.2, 123, 12)
    assert (spec.max_retries, spec.retry_base_s, spec.retry_cap_s) == (2, 0.1, 3.0)
    model = get_model("local-vlm", load_registry(path))
    assert isinstance(model, LiteLLMModel) and model.name == "local-vlm" and model.route == "openai/qwen"
    assert model.settings() == {"route": "openai/qwen", "api_base": "http://127.0.0.1:9999/v1", "temperature": 0.2,
                                "max_tokens": 123, "top_p": 0.9}
    assert model.video_format == "video_url" and model.client == "litellm"
    fast = _yaml(tmp_path / "fast.yaml", "models:\n  fast: {route: openai/m, api_base: 'http://h:1/v1', client: direct}\n")
    from svgarena.agents import DirectModel

    direct = get_model("fast", load_registry(fast))
    assert isinstance(direct, DirectModel) and direct.client == "direct" and direct.api_base == "http://h:1/v1"


@pytest.mark.parametrize(("text", "message"), [
    ("models:\n  x: {route: gpt-4o}\n", "route of the form provider/model"),
    ("models:\n  x: {route: openai/x, colour: red}\n", "unknown field(s) colour"),
    ("models:\n  x: {route: openai/x, api_key: sk-live-123}\n", "holds an API key"),
    ("models:\n  x: {route: openai/x, params: {api_key: sk-live-123}}\n", "holds an API key"),
    ("models:\n  x: {route: openai/x, concurrency: 0}\n", "concurrency must be at least 1"),
    ("models:\n  x: {route: openai/x, accepts: {video: mp4}}\n", "accepts.video must be"),
    ("models:\n  x: {route: openai/x, client: direct}\n", "client direct needs an api_base"),
    ("models:\n  x: {route: openai/x, client: curl}\n", "client must be litellm or direct"),
    ("models:\n  x: {route: openai/x, price: {input: cheap}}\n", "model 'x'"),
    ("models: [1, 2]\n", "must have one top-level key"),
    ("models:\n  x: {route: openai/x\n", "not valid YAML"),
])
def test_bad_files_give_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = _yaml(tmp_path / "bad.yaml", text)
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "sk-live-123" not in str(err.value)


def test_names_routes_and_unknowns(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="models file .*nope.yaml does not exist"):
        load_registry(tmp_path / "nope.yaml")
    with pytest.raises(RegistryError, match="unknown model 'gpt4o'"):
        get_model("gpt4o")
    bare = get_model("openai/some-model")
    assert isinstance(bare, LiteLLMModel) and bare.name == "openai/some-model"
    assert get_model("baseline/blank").name == "baseline/blank"
    text_only = get_model("smollm2")
    assert "does not take images" in text_only.supports(get_task("icon/img2svg"))
    assert "does not take images" in text_only.supports(get_task("animation/video2sani"))
    assert text_only.supports(get_task("icon/understanding")) is None
    native = get_model("gemini-2.5-flash")
    assert native.supports(get_task("animation/video2sani")) is None


def test_served_endpoints_are_registered_while_their_process_lives(config_dir: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        register_endpoint("internsvg-8b", "http://127.0.0.1:4444/v1", route="openai/internsvg-8b", pid=child.pid)
        register_endpoint("my-gguf", "http://127.0.0.1:5555/v1", pid=child.pid)
        reg = load_registry()
        assert reg.get("internsvg-8b").api_base == "http://127.0.0.1:4444/v1"
        assert reg.get("internsvg-8b").max_tokens == 4000  # the built-in's settings, the served endpoint
        assert reg.get("my-gguf").route == "openai/my-gguf" and reg.get("my-gguf").priced
        # A models file still wins over a served endpoint.
        _yaml(config_dir / "models.yaml", "models:\n  internsvg-8b: {route: openai/x, api_base: http://h/v1}\n")
        assert load_registry().get("internsvg-8b").api_base == "http://h/v1"
        (config_dir / "models.yaml").unlink()
        unregister_endpoint("my-gguf", pid=os.getpid())  # not ours to remove: kept
        assert load_registry().get("my-gguf") is not None
        unregister_endpoint("my-gguf", pid=child.pid)
        assert load_registry().get("my-gguf") is None
    finally:
        child.kill()
        child.wait()
    # The serving process is gone: its stale entry is ignored.
    assert load_registry().get("internsvg-8b").api_base == "http://127.0.0.1:23333/v1"


def test_models_check_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from svgarena.agents import check_model
    from tests._fault_server import FaultServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("SVGARENA_TEST_UNSET_KEY", raising=False)
    with FaultServer(lambda body: "red", models=["served-model"]) as srv:
        path = _yaml(tmp_path / "m.yaml", f"""models:
  up: {{route: openai/served-model, api_base: "{srv.api_base}", price: {{input: 1, output: 2}}}}
  text-up: {{route: openai/served-model, api_base: "{srv.api_base}", accepts: {{images: false}}}}
  not-served: {{route: openai/other-model, api_base: "{srv.api_base}"}}
  down: {{route: openai/served-model, api_base: "http://127.0.0.1:9/v1"}}
  keyless: {{route: openai/served-model, api_base: "{srv.api_base}", api_key_env: SVGARENA_TEST_UNSET_KEY}}
  refused: {{route: openai/served-model, api_base: "{srv.api_base}", api_key_env: SVGARENA_TEST_BAD_KEY}}
""")
        reg = load_registry(path)

        def check(name: str):
            return asyncio.run(check_model(get_model(name, reg), reg.get(name), timeout_s=20))

        ok = check("up")
        assert ok.ok and ok.with_image and ok.reply == "red" and ok.latency_s > 0
        image_part = srv.requests[-1]["messages"][0]["content"][1]
        assert image_part["image_url"]["url"].startswith("data:image/png;base64,")
        text = check("text-up")
        assert text.ok and not text.with_image and isinstance(srv.requests[-1]["messages"][0]["content"], str)
        assert check("not-served").reason.startswith("model not served: ")
        assert "serves served-model, not other-model" in check("not-served").reason
        assert check("down").reason.startswith("wrong endpoint: nothing answers at http://127.0.0.1:9/v1")
        assert check("keyless").reason.startswith("no key: environment variable SVGARENA_TEST_UNSET_KEY is not set")
        assert check("gpt-4o").reason.startswith("no key: environment variable OPENAI_API_KEY is not set")
        srv.script = {"colour": ["401"]}
        monkeypatch.setenv("SVGARENA_TEST_BAD_KEY", "sk-wrong-key-0123456789")
        refused = check("refused")
        assert refused.reason.startswith("key refused: the provider rejected the key in SVGARENA_TEST_BAD_KEY")
        assert "sk-wrong-key-0123456789" not in refused.reason


@pytest.mark.slow
def test_models_commands(tmp_path: Path, config_dir: Path) -> None:
    from tests._fault_server import FaultServer

    env = dict(os.environ, SVGARENA_CONFIG_DIR=str(config_dir))
    with FaultServer(lambda body: "red", models=["served-model"]) as srv:
        path = _yaml(tmp_path / "m.yaml", f"""models:
  up: {{route: openai/served-model, api_base: "{srv.api_base}", price: {{input: 1, output: 2}}}}
  down: {{route: openai/served-model, api_base: "http://127.0.0.1:9/v1", price: {{input: 1, output: 2}}}}
""")

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "svgarena.cli", "models", *args, "--models-file", str(path)],
                                  env=env, capture_output=True, text=True, timeout=120)

        listed = cli("list")
        assert listed.returncode == 0, listed.stderr
        for name in ("up", "down", "gpt-4o", "claude-sonnet-4", "internsvg-8b", "smollm2", "built-in", str(path)):
            assert name in listed.stdout, name
        ok = cli("check", "up")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith("up: ok (with an image) in ") and "'red'" in ok.stdout
        down = cli("check", "down")
        assert down.returncode == 1 and "down: FAILED (with an image): wrong endpoint: nothing answers" in down.stderr
