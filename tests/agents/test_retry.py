"""The one retry layer against a real fault-injecting OpenAI-compatible server on 127.0.0.1.

Each test scripts what the server does (429 with Retry-After, 5xx, hangs, cut-off JSON, empty or
SVG-less content, refusals) and checks what the model layer made of it: bounded, recorded
retries; permanent errors never retried; an unusable model no longer called; an adaptive
concurrency limit; identical requests answered from the cache; a budget cap that stops new calls.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from svgarena.agents import (
    AdaptiveLimiter,
    Budget,
    BudgetExceeded,
    CallLedger,
    DirectModel,
    ErrorClass,
    LiteLLMModel,
    ManagedModel,
    Reply,
    ReplyCache,
    RetryPolicy,
    cache_key,
    classify,
)
from tests._fault_server import FaultServer

FAST = RetryPolicy(max_retries=3, base_s=0.01, cap_s=0.05)


def _managed(srv: FaultServer | None, tmp_path: Path, *, policy: RetryPolicy = FAST, concurrency: int = 4,
             cache: bool = True, budget: Budget | None = None, timeout_s: float = 5.0, base: str | None = None,
             key_env: str | None = None, prices: tuple[float, float] | None = (1.0, 2.0),
             client: str = "litellm") -> ManagedModel:
    cls = DirectModel if client == "direct" else LiteLLMModel
    inner = cls("openai/test-model", api_base=base or srv.api_base, timeout_s=timeout_s, api_key_env=key_env,
                         input_usd_per_mtok=prices[0] if prices else None,
                         output_usd_per_mtok=prices[1] if prices else None)
    db = tmp_path / "calls.sqlite"
    return ManagedModel(inner, concurrency=concurrency, policy=policy, cache=ReplyCache(db) if cache else None,
                        ledger=CallLedger(db), budget=budget, rng=random.Random(0))


def _ask(model: ManagedModel, text: str, **kw: Any) -> Reply:
    async def go() -> Reply:
        try:
            return await model.call([{"role": "user", "content": text}], **kw)
        finally:
            await model.aclose()

    return asyncio.run(go())


def _ledger(tmp_path: Path) -> list[sqlite3.Row]:
    con = sqlite3.connect(tmp_path / "calls.sqlite")
    con.row_factory = sqlite3.Row
    try:
        return con.execute("SELECT * FROM calls ORDER BY id").fetchall()
    finally:
        con.close()


def test_classify() -> None:
    def err(kind: str, status: int | None = None) -> Reply:
        raw: dict[str, Any] = {"error_type": kind}
        if status is not None:
            raw["status_code"] = status
        return Reply(error=f"{kind}: x", raw=raw)

    assert classify(Reply(text="hi")) is ErrorClass.OK
    assert classify(Reply(text="  \n")) is ErrorClass.EMPTY
    assert classify(err("RateLimitError", 429)) is ErrorClass.RATE_LIMIT
    for kind, status in (("InternalServerError", 500), ("ServiceUnavailableError", 503), ("Timeout", 408),
                         ("APIConnectionError", 500), ("APIError", 529), ("BadGatewayError", 502)):
        assert classify(err(kind, status)) is ErrorClass.TRANSIENT, kind
    for kind, status in (("BadRequestError", 400), ("AuthenticationError", 401), ("NotFoundError", 404),
                         ("ContextWindowExceededError", 400), ("UnprocessableEntityError", 422),
                         ("MissingApiKeyError", None), ("ValueError", None)):
        assert classify(err(kind, status)) is ErrorClass.PERMANENT, kind


def test_backoff_is_bounded_full_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_s=1.0, cap_s=8.0)
    rng = random.Random(1)
    for n in range(8):
        waits = [policy.delay(n, None, rng) for _ in range(200)]
        assert 0 <= min(waits) and max(waits) <= min(8.0, 2 ** n)
        assert max(waits) > 0.5 * min(8.0, 2 ** n)  # full jitter spreads over the whole range
    assert all(3.0 <= policy.delay(0, 3.0, rng) <= 3.0 + 0.35 for _ in range(100))
    assert policy.delay(0, 10_000.0, rng) <= policy.retry_after_cap_s + 1.0


def test_adaptive_limiter_halves_once_per_round_and_recovers() -> None:
    async def go() -> None:
        lim = AdaptiveLimiter(8)
        gens = [await lim.acquire() for _ in range(8)]
        assert lim.in_flight == 8
        for g in gens:  # a storm: every call of the round gets a 429
            lim.on_rate_limit(g)
        assert lim.current == 4 and lim.cuts == 1  # cut once, not eight times
        for _ in range(8):
            await lim.release()
        for _ in range(4):  # four successes at limit 4 earn one more slot
            lim.on_success()
        assert lim.current == 5
        for _ in range(200):
            lim.on_success()
        assert lim.current == 8  # never above the configured maximum
        lim.pause(0.3)
        t = time.monotonic()
        await lim.acquire()
        assert time.monotonic() - t >= 0.25  # a Retry-After holds back every new call

    asyncio.run(go())


CLIENTS = pytest.mark.parametrize("client", ["litellm", "direct"])


@CLIENTS
@pytest.mark.timeout(120)
def test_each_fault_is_retried_as_its_kind_says(tmp_path: Path, client: str) -> None:
    script = {"q429": ["429:0.3", "ok"], "q500": ["500", "503", "ok"], "qcut": ["truncated", "ok"],
              "qhang": ["hang", "ok"], "qempty": ["empty", "ok"], "qnosvg": ["nosvg"], "q400": ["400", "ok"],
              "q502x": ["502"] * 10}
    with FaultServer(script=script, hang_s=5) as srv:
        model = _managed(srv, tmp_path, timeout_s=1.0, client=client)
        t = time.monotonic()
        r429 = _ask(model, "q429")
        assert time.monotonic() - t >= 0.3  # the Retry-After was honoured
        assert r429.error is None and r429.retries == 1 and "<svg" in r429.text
        assert [tr["class"] for tr in r429.raw["tries"]] == ["rate_limit", "ok"]
        assert _ask(model, "q500").retries == 2
        cut = _ask(model, "qcut")
        assert cut.error is None and cut.retries == 1
        hang = _ask(model, "qhang")
        assert hang.error is None and hang.retries == 1 and hang.raw["tries"][0]["error_type"] == "Timeout"
        empty = _ask(model, "qempty")
        assert empty.error is None and empty.retries == 1 and "<svg" in empty.text
        nosvg = _ask(model, "qnosvg")  # an answer without SVG is an answer: not retried, judged later (no_svg)
        assert nosvg.error is None and nosvg.retries == 0 and "<svg" not in nosvg.text
        bad = _ask(model, "q400")
        assert bad.retries == 0 and bad.error.startswith("permanent error, not retried: BadRequestError")
        assert srv.by_prompt["q400"] == ["400"]  # asked once, never again
        worst = _ask(model, "q502x")
        assert worst.retries == 3 and worst.error.startswith("gave up after 3 retries: ")
        assert srv.by_prompt["q502x"] == ["502"] * 4  # bounded: 1 try + max_retries
        # Tokens and cost are those of every try (an empty reply is paid too); latency that of the last.
        assert empty.usage.input_tokens == 200 and empty.usage.cost_usd == pytest.approx(2 * (100 + 100) / 1e6)
    rows = _ledger(tmp_path)
    assert len(rows) == srv.chat_requests  # every call the server saw is in the ledger, and no other
    assert sum(r["try"] > 0 for r in rows) == 1 + 2 + 1 + 1 + 1 + 3
    rl = [r for r in rows if r["error_class"] == "rate_limit"]
    assert len(rl) == 1 and rl[0]["wait_s"] >= 0.3 and rl[0]["status_code"] == 429


@CLIENTS
@pytest.mark.timeout(120)
def test_a_429_storm_loses_nothing_and_adapts_concurrency(tmp_path: Path, client: str) -> None:
    with FaultServer(storm={"429:0.2": 0.4, "500": 0.1}, seed=7, delay=0.02) as srv:
        model = _managed(srv, tmp_path, concurrency=8, policy=RetryPolicy(max_retries=12, base_s=0.01, cap_s=0.1),
                         client=client)

        async def many() -> list[Reply]:
            try:
                return await asyncio.gather(*(model.call([{"role": "user", "content": f"sample {i}"}])
                                              for i in range(40)))
            finally:
                await model.aclose()

        replies = asyncio.run(many())
    assert all(r.error is None and "<svg" in r.text for r in replies), [r.error for r in replies if r.error]
    assert srv.steps["429:0.2"] > 5
    assert sum(r.retries for r in replies) == srv.steps["429:0.2"] + srv.steps["500"]
    assert srv.max_in_flight <= 8
    assert model.limiter.cuts >= 1  # the limit came down on 429s
    rows = _ledger(tmp_path)
    assert sum(r["error_class"] == "rate_limit" for r in rows) == srv.steps["429:0.2"]
    assert all(r["wait_s"] >= 0.2 for r in rows if r["error_class"] == "rate_limit")


@CLIENTS
@pytest.mark.timeout(120)
def test_unusable_models_are_not_called_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client: str) -> None:
    monkeypatch.setenv("SVGARENA_TEST_KEY", "sk-test-refused-key-42")
    with FaultServer(script={"first": ["401"]}) as srv:
        model = _managed(srv, tmp_path, key_env="SVGARENA_TEST_KEY", client=client)
        refused = _ask(model, "first")
        assert refused.error.startswith("permanent error, not retried: AuthenticationError")
        assert "sk-test-refused-key-42" not in refused.error  # echoed by the server, scrubbed here
        later = _ask(model, "second")
        assert later.error.startswith("not called: openai/test-model is unusable: AuthenticationError")
        assert srv.chat_requests == 1

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = _managed(None, tmp_path, base=f"http://127.0.0.1:{port}/v1", policy=RetryPolicy(max_retries=2, base_s=0.01),
                    client=client)
    first = [_ask(down, f"q{i}") for i in range(3)]
    assert all(r.error.startswith("gave up after 2 retries: ") for r in first)
    assert down.unusable and "is unreachable (3 requests in a row failed after 2 retries each)" in down.unusable
    t = time.monotonic()
    fourth = _ask(down, "q4")
    assert fourth.error.startswith("not called: ") and time.monotonic() - t < 0.5


@pytest.mark.timeout(60)
def test_identical_requests_come_from_the_cache(tmp_path: Path) -> None:
    with FaultServer(script={"flaky": ["500", "500", "500", "500", "ok"], "hollow": ["empty"] * 3}) as srv:
        model = _managed(srv, tmp_path)
        first = _ask(model, "hello")
        again = _ask(model, "hello")
        assert again.text == first.text and again.raw["cached"] is True and srv.chat_requests == 1
        assert again.usage.cost_usd == 0.0 and again.usage.input_tokens == first.usage.input_tokens
        assert _ask(model, "hello", epoch=1).raw.get("cached") is None  # another epoch is another request
        assert _ask(model, "hello", call_index=1).raw.get("cached") is None  # so is another round
        assert srv.chat_requests == 3
        failed = _ask(model, "flaky")  # only successful replies are kept
        assert failed.error is not None
        assert _ask(model, "flaky").error is None and srv.by_prompt["flaky"][-1] == "ok"
        hollow = _ask(model, "hollow")
        assert hollow.error is None and hollow.text == "" and hollow.retries == 2  # kept as the model's answer...
        assert _ask(model, "hollow").raw.get("cached") is None  # ... but not cached
    nocache = _managed(srv, tmp_path, cache=False)
    with FaultServer() as srv2:
        nocache.inner.api_base = srv2.api_base
        _ask(nocache, "hello")
        _ask(nocache, "hello")
        assert srv2.chat_requests == 2


def test_cache_key_covers_model_endpoint_settings_media_and_epoch() -> None:
    msgs = [{"role": "user", "content": [{"type": "text", "text": "t"},
                                          {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]
    other = [{"role": "user", "content": [{"type": "text", "text": "t"},
                                           {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAB"}}]}]
    settings = {"route": "openai/m", "api_base": "http://a/v1", "temperature": 0.0, "max_tokens": 4000}
    key = cache_key("m", settings, msgs)
    assert key == cache_key("m", dict(settings), [dict(m) for m in msgs])
    assert key != cache_key("m", settings, other)
    assert key != cache_key("m2", settings, msgs)
    assert key != cache_key("m", {**settings, "api_base": "http://b/v1"}, msgs)
    assert key != cache_key("m", {**settings, "temperature": 0.7}, msgs)
    assert key != cache_key("m", settings, msgs, epoch=1)


@pytest.mark.timeout(60)
def test_budget_cap_stops_new_calls(tmp_path: Path) -> None:
    with FaultServer(usage=(1000, 500)) as srv:
        # 1000 in + 500 out at 100 / 200 USD per million: 0.2 USD a call.
        model = _managed(srv, tmp_path, prices=(100.0, 200.0), budget=Budget(max_cost_usd=0.5), concurrency=1)
        for i in range(3):
            assert _ask(model, f"q{i}").usage.cost_usd == pytest.approx(0.2)
        with pytest.raises(BudgetExceeded, match=r"--max-cost 0.5 USD \(spent 0.6000 USD\)"):
            _ask(model, "q3")
        assert srv.chat_requests == 3
        assert _ask(model, "q0").raw["cached"] is True  # a cached answer costs nothing: still served
        tokens = _managed(srv, tmp_path, budget=Budget(max_tokens=3000), concurrency=1)
        _ask(tokens, "t0")
        _ask(tokens, "t1")
        with pytest.raises(BudgetExceeded, match="--max-tokens 3000 tokens"):
            _ask(tokens, "t2")
        assert srv.chat_requests == 5


@pytest.mark.timeout(60)
def test_one_call_reports_retry_after_price_and_scrubs_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SVGARENA_TEST_KEY", "sk-test-echoed-key-99")
    with FaultServer(script={"limited": ["429:7"], "echo": ["echo-auth"]}, usage=(321, 45)) as srv:
        model = LiteLLMModel("openai/test-model", api_base=srv.api_base, api_key_env="SVGARENA_TEST_KEY",
                             input_usd_per_mtok=2.0, output_usd_per_mtok=8.0, timeout_s=10)
        limited = asyncio.run(model.complete([{"role": "user", "content": "limited"}]))
        assert limited.raw["status_code"] == 429 and limited.raw["retry_after"] == 7.0
        echoed = asyncio.run(model.complete([{"role": "user", "content": "echo"}]))
        assert echoed.text == "B. (you sent Bearer ***)"
        assert echoed.usage.cost_usd == pytest.approx(321 * 2e-6 + 45 * 8e-6)  # the registry's price
        assert srv.requests[-1]["max_tokens"] == 4000 and srv.requests[-1]["temperature"] == 0
