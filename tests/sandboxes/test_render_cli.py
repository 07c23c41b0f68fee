"""`svgarena render` and `svgarena sandbox`: for people, one line per failure, exit codes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from svgarena.cli import app
from svgarena.sandboxes import LocalRenderer, RenderSpec, chromium_path, frame_count, read_frames

ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" fill="#fff"/>'
        '<circle cx="16" cy="16" r="10" fill="#0a0"/></svg>')
MOVING = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><circle cx="20" cy="64" r="12" fill="#f00">'
          '<animate attributeName="cx" from="20" to="108" dur="5s" fill="freeze"/></circle></svg>')

runner = CliRunner()


@pytest.fixture
def icon(tmp_path):
    path = tmp_path / "icon.svg"
    path.write_text(ICON)
    return path


@pytest.mark.parametrize("renderer", ["cairosvg", "resvg"])
def test_render_png_matches_the_pool(icon, tmp_path, renderer):
    if renderer == "resvg":
        pytest.importorskip("resvg_py")
    out = tmp_path / "out.png"
    result = runner.invoke(app, ["render", str(icon), "-o", str(out), "--renderer", renderer, "--size", "100"])
    assert result.exit_code == 0, result.output
    assert renderer in result.output
    img = np.asarray(Image.open(out).convert("RGB"))
    with LocalRenderer(1) as pool:
        ref = pool.render_svg(ICON, RenderSpec(width=100, height=100, renderer=renderer))
    np.testing.assert_array_equal(img, ref.image)


def test_render_failure_is_one_line_and_nonzero(tmp_path):
    bad = tmp_path / "bad.svg"
    bad.write_bytes(b"<svg><g></svg>")
    out = tmp_path / "out.png"
    result = runner.invoke(app, ["render", str(bad), "-o", str(out)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("parse_error: ") and "mismatched tag" in lines[0]
    assert not out.exists()


def test_render_malformed_utf8_is_parse_error(tmp_path):
    bad = tmp_path / "bad.svg"
    bad.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><text>\xff\xfe</text></svg>')
    result = runner.invoke(app, ["render", str(bad), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 1 and result.output.startswith("parse_error: ")


@pytest.mark.parametrize("args, message", [
    (["--renderer", "inkscape"], "unknown renderer 'inkscape'"),
    (["--backend", "cloud"], "unknown backend 'cloud'"),
    (["--size", "0"], "--size must be between"),
])
def test_render_user_errors(icon, tmp_path, args, message):
    result = runner.invoke(app, ["render", str(icon), "-o", str(tmp_path / "o.png"), *args])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]


def test_render_missing_file(tmp_path):
    result = runner.invoke(app, ["render", str(tmp_path / "nope.svg"), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 2 and "no such file" in result.output


@pytest.mark.skipif(chromium_path() is None, reason="needs Chromium (apt-get install chromium)")
@pytest.mark.parametrize("mode, frames", [("fast", 8), ("sarena-exact", 150)])
def test_render_animate(tmp_path, mode, frames):
    svg = tmp_path / "moving.svg"
    svg.write_text(MOVING)
    out = tmp_path / "moving.mp4"
    result = runner.invoke(app, ["render", "--animate", str(svg), "-o", str(out), "--mode", mode, "--size", "128"])
    assert result.exit_code == 0, result.output
    assert frame_count(out) == frames
    video = read_frames(out)
    assert video.shape[1:] == (128, 128, 3)
    red_x = [np.nonzero((f[..., 0] > 200) & (f[..., 1] < 80))[1].mean() for f in (video[0], video[-1])]
    assert red_x[1] > red_x[0] + 40  # the circle moved right


def test_render_animate_unknown_mode(tmp_path):
    svg = tmp_path / "moving.svg"
    svg.write_text(MOVING)
    result = runner.invoke(app, ["render", "--animate", str(svg), "-o", str(tmp_path / "m.mp4"), "--mode", "slow"])
    assert result.exit_code == 2 and "unknown animation mode 'slow'" in result.output


def test_sandbox_commands_are_listed():
    result = runner.invoke(app, ["sandbox", "--help"])
    assert result.exit_code == 0 and "build" in result.output and "cleanup" in result.output


def test_run_rejects_unknown_backend_before_creating_anything(tmp_path):
    result = runner.invoke(app, ["run", "--backend", "cloud", "--out", str(tmp_path), "--limit", "1"])
    assert result.exit_code == 2 and "unknown backend 'cloud'" in result.output
    assert list(tmp_path.iterdir()) == []
