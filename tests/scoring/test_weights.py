"""The checkpoint manifest: lookup, the missing-checkpoint line, fetch from a local server, verify."""

from __future__ import annotations

import hashlib
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from svgarena.cli import app
from svgarena.scoring import CHECKPOINTS, METRICS, Checkpoint, CheckpointMissing, register_checkpoint
from svgarena.scoring import _weights as w


@pytest.fixture
def no_caches(tmp_path, monkeypatch):
    """Every library cache points into an empty temporary folder."""
    for var in ("XDG_CACHE_HOME", "TORCH_HOME", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.setenv(var, str(tmp_path / "cache" / var.lower()))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(w.WEIGHTS_ENV, raising=False)
    return tmp_path


def test_manifest_covers_every_neural_metric():
    needs = {m: getattr(METRICS[m], "checkpoints", ()) for m in METRICS}
    for metric, names in needs.items():
        for name in names:
            assert name in CHECKPOINTS, f"{metric} needs {name}, which the manifest lacks"
            assert metric in CHECKPOINTS[name].metrics
    for ck in CHECKPOINTS.values():
        assert ck.url or ck.hf_repo or ck.package_file
        assert not ck.sha256 or len(ck.sha256) == 64
        assert not ck.sha256_prefix or (ck.url and ck.sha256_prefix in ck.url)  # published in the file name


def test_missing_checkpoint_is_one_line_naming_it_and_the_fetch_command(no_caches):
    with pytest.raises(CheckpointMissing) as err:
        w.require("inception-fid")
    line = str(err.value)
    assert "\n" not in line
    assert "inception-fid" in line and "svgarena weights fetch inception-fid" in line and "fid" in line


def test_weights_dir_is_searched_first(no_caches, monkeypatch):
    wdir = no_caches / "weights"
    wdir.mkdir()
    (wdir / "ViT-B-32.pt").write_bytes(b"x")
    assert w.find("clip-vit-b-32-openai", wdir) == wdir / "ViT-B-32.pt"
    monkeypatch.setenv(w.WEIGHTS_ENV, str(wdir))
    assert w.find("clip-vit-b-32-openai") == wdir / "ViT-B-32.pt"
    assert w.find("dinov2-base") is None


def test_verify_published_prefix_and_recorded(no_caches):
    wdir = no_caches / "weights"
    wdir.mkdir()
    (wdir / "vgg16-397923af.pth").write_bytes(b"not the real vgg")
    assert w.verify("vgg16-imagenet", wdir).status == "mismatch"
    (wdir / "dinov2-base.safetensors").write_bytes(b"some weights")
    first = w.verify("dinov2-base", wdir)
    assert first.status == "recorded" and "no published digest" in first.detail
    assert w.verify("dinov2-base", wdir).status == "ok"  # against the recorded digest now
    (wdir / "dinov2-base.safetensors").write_bytes(b"other weights")
    assert w.verify("dinov2-base", wdir).status == "mismatch"
    assert w.verify("lpips-vgg-lin").status == "ok"  # ships inside the lpips package


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102
        pass


@pytest.fixture
def file_server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch_downloads_verifies_and_refuses_a_bad_hash(no_caches, file_server):
    root, base = file_server
    data = b"checkpoint bytes" * 1000
    (root / "tiny.pt").write_bytes(data)
    good = Checkpoint(name="test-tiny", metrics=("test_metric",), filename="tiny.pt", description="test",
                      cache="torch", url=f"{base}/tiny.pt", sha256=hashlib.sha256(data).hexdigest())
    bad = Checkpoint(name="test-tiny-bad", metrics=("test_metric",), filename="tiny.pt", description="test",
                     cache="clip", url=f"{base}/tiny.pt", sha256="0" * 64)
    try:
        register_checkpoint(good)
        register_checkpoint(bad)
        path = w.fetch("test-tiny")
        assert path == w.torch_hub_checkpoints() / "tiny.pt" and path.read_bytes() == data
        wdir = no_caches / "air-gapped"
        assert w.fetch("test-tiny", wdir) == wdir / "tiny.pt"  # a bundle to copy elsewhere
        with pytest.raises(w.CheckpointCorrupt, match="differs from the published"):
            w.fetch("test-tiny-bad")
        gone = Checkpoint(name="test-gone", metrics=("x",), filename="gone.pt", description="", cache="torch",
                          url=f"{base}/gone.pt")
        register_checkpoint(gone)
        with pytest.raises(ConnectionError, match="--weights-dir"):
            w.fetch("test-gone")
    finally:
        for name in ("test-tiny", "test-tiny-bad", "test-gone"):
            CHECKPOINTS.pop(name, None)


def test_cli_weights_list_and_verify(no_caches):
    runner = CliRunner()
    listed = runner.invoke(app, ["weights", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert "dinov2-base" in listed.output and "clip-vit-l-14-openai" in listed.output
    shown = runner.invoke(app, ["weights", "list"])
    assert shown.exit_code == 0 and "svgarena weights fetch" in shown.output
    checked = runner.invoke(app, ["weights", "verify"])
    assert checked.exit_code == 0 and "lpips-vgg-lin" in checked.output
    unknown = runner.invoke(app, ["weights", "fetch", "no-such-checkpoint"])
    assert unknown.exit_code == 2 and "unknown checkpoint" in unknown.output


def test_cli_weights_fetch_shows_bytes_and_time_left(no_caches, file_server):
    root, base = file_server
    data = bytes(range(256)) * 40_000  # 10.24 MB: several 4 MiB blocks
    (root / "big.pt").write_bytes(data)
    big = Checkpoint(name="test-big", metrics=("test_metric",), filename="big.pt", description="test",
                     cache="torch", url=f"{base}/big.pt", size=len(data), sha256=hashlib.sha256(data).hexdigest())
    seen: list[tuple[int, int | None]] = []
    try:
        register_checkpoint(big)
        w.fetch("test-big", no_caches / "direct", on_bytes=lambda got, total: seen.append((got, total)))
        assert seen[0] == (0, len(data)) and seen[-1] == (len(data), len(data)) and len(seen) >= 4
        result = CliRunner().invoke(app, ["weights", "fetch", "test-big", "--weights-dir", str(no_caches / "cli")])
    finally:
        CHECKPOINTS.pop("test-big", None)
    assert result.exit_code == 0, result.output
    assert "test-big: 10.2 MB/10.2 MB (100%), 0:00 elapsed" in result.output  # off a terminal: a line, not a bar
