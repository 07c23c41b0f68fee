"""`svgarena report RUN --html FILE` opened in a real headless Chromium from a file:// URL, offline.

Two real runs feed it: the bundled suite with the offline baselines (vtracer answers, blank fails
every sample with a reason, oracle answers the choice task), and a refine run against a scripted
local chat server (several rounds, each with its render, scores and feedback; best-oracle selection,
so an oracle arm), and an animation run in fast mode (renders stored as sheets of frames). Every request
the page makes outside file: is aborted and fails the test.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from svgarena.sandboxes import chromium_path
from tests._store import query as _q

pytestmark = pytest.mark.skipif(
    chromium_path() is None or importlib.util.find_spec("playwright") is None,
    reason="needs Chromium (apt-get install chromium) and the playwright package",
)

# A model's SVG that would fetch, script and break out of a <pre> if it were ever inlined unescaped.
HOSTILE = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><!-- </pre></details>'
           '<img src="http://127.0.0.1:9/leak.png"><script>window.pwned = 1</script> -->'
           '<rect width="9" height="9"/></svg>')


@contextmanager
def browser_page(url: str) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A Chromium page at ``url`` whose requests outside file: are aborted and recorded; console errors kept."""
    from playwright.sync_api import sync_playwright

    from svgarena.sandboxes._browser import CHROMIUM_ARGS

    blocked: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})

            def guard(route: Any) -> None:
                if route.request.url.startswith("file:"):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            context.route("**/*", guard)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, wait_until="load")
            yield page, blocked, errors
        finally:
            browser.close()


def all_images_load(page: Any) -> tuple[int, list[str]]:
    """Make every image eager (the page loads them lazily), wait for them, return (count, the broken ones)."""
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=30_000)
    broken = page.evaluate("Array.from(document.images).filter(i => !(i.naturalWidth > 0))"
                           ".map(i => i.alt + ' ' + i.src.slice(0, 60))")
    return page.evaluate("document.images.length"), broken


def visible(page: Any) -> list[dict[str, str]]:
    return page.evaluate("Array.from(document.querySelectorAll('.card:not(.hidden)')).map(c => ({"
                         "task: c.dataset.task, model: c.dataset.model, outcome: c.dataset.outcome, "
                         "ssim: c.dataset.mSsim}))")


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of the bundled suite: two tasks, three offline baselines, three samples each."""
    from svgarena.harness import RunConfig, execute

    out = tmp_path_factory.mktemp("runs")
    config = RunConfig(suite="sarena-mini", tasks=["icon/img2svg", "icon/understanding"],
                       models=["baseline/vtracer", "baseline/blank", "baseline/oracle"], limit=3, workers=1,
                       out=str(out), run_id="mini")
    asyncio.run(execute(config))
    return out / "mini"


@pytest.fixture(scope="module")
def refine_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A refine run (3 rounds) against a scripted local server: a hostile poor SVG, then the reference."""
    from svgarena.harness import RunConfig, execute
    from tests._scripted_server import ScriptedServer, images_in
    from tests.tasks._layout import make_layout

    tmp = tmp_path_factory.mktemp("refine")
    suite = make_layout(tmp / "suite", n=3)
    gen = suite / "Icon" / "generation"
    refs = {base64.b64encode((gen / "images" / f"{p.stem}.png").read_bytes()).decode(): p.read_text()
            for p in (gen / "svg").glob("*.svg")}

    def reply(body: dict[str, Any]) -> str:
        msgs = body["messages"]
        if len(msgs) > 1 and images_in({"messages": [msgs[-1]]}):
            first = next(p for p in msgs[0]["content"] if isinstance(p, dict) and p.get("type") == "image_url")
            return refs[first["image_url"]["url"].split(",", 1)[1]]
        return HOSTILE

    with ScriptedServer(reply) as srv:
        models = tmp / "models.yaml"
        models.write_text(f'models:\n  scripted: {{route: openai/scripted, api_base: "{srv.api_base}", concurrency: 2}}\n')
        config = RunConfig(suite=str(suite), tasks=["icon/img2svg"], models=["scripted"], models_file=str(models),
                           solver="refine", rounds=3, select="best-oracle", out=str(tmp / "runs"), run_id="refine",
                           workers=1)
        asyncio.run(execute(config))
    return tmp / "runs" / "refine"


@pytest.fixture(scope="module")
def fast_anim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """video2sani in fast mode: each render is stored as its 8 metric frames side by side in one PNG."""
    from svgarena.harness import RunConfig, execute

    out = tmp_path_factory.mktemp("fast")
    config = RunConfig(suite="sarena-mini", tasks=["animation/video2sani"], models=["baseline/oracle"], limit=2,
                       workers=1, out=str(out), run_id="fast", animation_mode="fast")
    asyncio.run(execute(config))
    return out / "fast"


@pytest.mark.timeout(240)
def test_report_of_the_bundled_suite_loads_offline_and_filters(mini_run: Path, tmp_path: Path) -> None:
    from svgarena.harness import build_html

    db = mini_run / "run.sqlite"
    rep = build_html(mini_run, tmp_path / "report.html", images="embed", page_size=50, bootstrap=200)
    assert rep.files_dir is None and rep.samples == rep.shown == len(_q(db, "SELECT id FROM trajectories"))
    no_svg = _q(db, "SELECT COUNT(*) FROM trajectories WHERE outcome='no_svg'")[0][0]
    blank_img = _q(db, "SELECT COUNT(*) FROM trajectories WHERE model='baseline/blank' AND task='icon/img2svg'")[0][0]
    assert no_svg > 0 and blank_img == 3
    with browser_page(rep.path.resolve().as_uri()) as (page, blocked, errors):
        n_images, broken = all_images_load(page)
        # inputs, references and renders of img2svg, plus the charts: all real images
        assert n_images >= 3 * 3 and broken == []
        assert page.evaluate("document.querySelectorAll('svg').length") == 0  # no SVG is ever inlined
        assert len(visible(page)) == rep.samples

        page.select_option("#f-outcome", "no_svg")
        rows = visible(page)
        assert len(rows) == no_svg and {r["outcome"] for r in rows} == {"no_svg"}
        reasons = {r for (r,) in _q(db, "SELECT a.reason FROM attempts a JOIN trajectories t ON t.id = a.trajectory_id "
                                        "WHERE t.outcome = 'no_svg'")}
        assert set(page.locator(".card:not(.hidden) .reason").all_inner_texts()) == reasons  # each failure's reason

        page.click("#reset")
        page.click('a.samples[data-task="icon/img2svg"][data-model="baseline/blank"]:not([data-outcome])')
        rows = visible(page)
        assert len(rows) == blank_img and {(r["task"], r["model"]) for r in rows} == {("icon/img2svg", "baseline/blank")}

        page.click("#reset")
        page.select_option("#f-task", "icon/img2svg")
        page.select_option("#s-metric", "ssim")
        page.select_option("#s-dir", "asc")
        ssim = [float(r["ssim"]) for r in visible(page)]
        assert len(ssim) == 9 and ssim == sorted(ssim) and ssim[0] < ssim[-1]
        page.select_option("#s-dir", "desc")
        assert [float(r["ssim"]) for r in visible(page)] == sorted(ssim, reverse=True)

        # a choice answer and the escaped prompt (which holds the question's SVG code as text)
        page.click("#reset")
        page.select_option("#f-task", "icon/understanding")
        page.select_option("#f-model", "baseline/oracle")
        assert len(visible(page)) == 3
        assert "answer" in page.inner_text(".card:not(.hidden) .answer.right")
        assert "<svg" in page.inner_text(".card:not(.hidden) pre.prompt")

        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000
        assert errors == []
        assert blocked == []


@pytest.mark.timeout(240)
def test_refine_report_shows_every_round_with_scores_and_feedback(refine_run: Path, tmp_path: Path) -> None:
    from svgarena.harness import build_html

    rep = build_html(refine_run, tmp_path / "refine.html", images="folder", page_size=2, bootstrap=100)
    assert rep.files_dir is not None and rep.files_dir.name == "refine_files" and any(rep.files_dir.iterdir())
    text = rep.path.read_text()
    assert "<script>window.pwned" not in text and "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in text
    rounds = _q(refine_run / "run.sqlite", "SELECT COUNT(*) FROM attempts")[0][0]
    with browser_page(rep.path.resolve().as_uri()) as (page, blocked, errors):
        # pages of 2 cards: 3 samples make two pages
        assert len(visible(page)) == 2 and "of 3 matching (page 1 of 2)" in page.inner_text("#pageinfo")
        page.click("#next")
        assert len(visible(page)) == 1
        page.click("#prev")
        n_images, broken = all_images_load(page)
        assert broken == [] and n_images >= 3 + rounds  # each sample's input and every round's render (+ charts)
        card = page.locator(".card:not(.hidden)").first
        assert card.locator(".strip figure").count() == 1 + 3  # input = reference, then rounds 0, 1, 2
        captions = card.locator(".strip figcaption").all_inner_texts()
        assert "round 0" in captions[1] and "SSIM" in captions[1] and "SSIM 1.000" in captions[2]
        assert card.locator("figure.sel").count() == 1  # the selected round is marked
        card.locator("details:has(summary:text('feedback shown'))").first.click()
        assert "render" in card.locator("details[open] pre").first.inner_text().lower()
        # the hostile SVG is there as escaped text only: no script ran, no image was fetched
        assert card.locator("pre", has_text="window.pwned").count() == 1
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.locator("img[alt*='after each round']").count() == 1  # the per-round curve
        # best-oracle selection peeked at the reference: the arm is marked wherever it is named
        assert "ORACLE (selection)" in page.inner_text("table.results td.l >> nth=1")
        assert "ORACLE (selection)" in card.locator(".head").inner_text()
        assert page.locator(".card").first.get_attribute("data-model") == "scripted [refine] ORACLE (selection)"
        assert "ORACLE (selection)" in page.inner_text("#f-model")
        shot = tmp_path / "refine.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert errors == []
        assert blocked == []


@pytest.mark.timeout(240)
def test_a_fast_mode_animation_render_is_a_strip_of_its_frames(fast_anim_run: Path, tmp_path: Path) -> None:
    """The stored sheet (8 x 448 px frames side by side) is cut into 4 frames, not shrunk whole to 128x16 px."""
    from svgarena.harness import build_html

    media = _q(fast_anim_run / "run.sqlite", "SELECT media FROM attempts")
    assert media and all('"frames"' in m and "mp4" not in m for (m,) in media)  # really fast mode: no video
    rep = build_html(fast_anim_run, tmp_path / "fast.html", images="embed", bootstrap=50)
    with browser_page(rep.path.resolve().as_uri()) as (page, blocked, errors):
        n_images, broken = all_images_load(page)
        assert broken == [] and n_images >= 3 * 2  # input strip, reference strip, render strip per sample
        sizes = page.evaluate("Array.from(document.querySelectorAll(\"img[alt^='model render']\"))"
                              ".map(i => [i.naturalWidth, i.naturalHeight])")
        assert len(sizes) == 2 and all(w > 300 and h >= 64 for w, h in sizes), sizes
        assert errors == [] and blocked == []


@pytest.mark.timeout(60)
def test_the_network_guard_catches_a_request(tmp_path: Path) -> None:
    """The guard the report tests rely on really sees and fails an outside request."""
    page_file = tmp_path / "leak.html"
    page_file.write_text('<!doctype html><img src="http://127.0.0.1:9/leak.png" alt="x">')
    with browser_page(page_file.resolve().as_uri()) as (_page, blocked, _errors):
        pass
    assert blocked == ["http://127.0.0.1:9/leak.png"]


def test_cli_writes_the_report_and_rejects_bad_options(mini_run: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from svgarena.cli import app

    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(mini_run), "--html", str(out), "--bootstrap", "50",
                                   "--gallery-limit", "1"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    groups = _q(mini_run / "run.sqlite", "SELECT COUNT(DISTINCT task || model || solver) FROM trajectories")[0][0]
    assert text.count('class="card"') == groups  # one sample per (task, model)
    assert "failures first" in text
    res = CliRunner().invoke(app, ["report", str(mini_run), "--html", str(tmp_path / "r.txt")])
    assert res.exit_code == 2 and "must end in .html" in res.output
    res = CliRunner().invoke(app, ["report", str(mini_run), "--html", str(out), "--images", "inline"])
    assert res.exit_code == 2 and "--images must be auto, embed or folder" in res.output
