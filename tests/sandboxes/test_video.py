"""MP4 encode/decode with imageio-ffmpeg, and SArena's frame sampling."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from svgarena.sandboxes import _video as video


def _ramp_frames(n: int = 150, size: int = 64) -> np.ndarray:
    """Grey frames that encode their index: left half (i % 16) * 16, right half (i // 16) * 25."""
    out = np.zeros((n, size, size, 3), np.uint8)
    for i in range(n):
        out[i, :, : size // 2] = (i % 16) * 16
        out[i, :, size // 2 :] = (i // 16) * 25
    return out


def _index_of(frame: np.ndarray) -> int:
    size = frame.shape[1]
    lo = int(round(frame[8:-8, 4 : size // 2 - 4].mean() / 16))
    hi = int(round(frame[8:-8, size // 2 + 4 : -4].mean() / 25))
    return lo + 16 * hi


def _stream_info(path) -> str:
    proc = subprocess.run([video._ffmpeg(), "-hide_banner", "-i", str(path)], capture_output=True)
    return proc.stderr.decode(errors="replace")


def test_round_trip_150_frames(tmp_path):
    rng = np.random.default_rng(0)
    frames = np.full((150, 448, 448, 3), 255, np.uint8)
    for i in range(150):  # a red block that moves two pixels per frame
        frames[i, 100:200, 2 * i : 2 * i + 60] = (229, 57, 53)
    frames[:, 300:400, 50:150] = rng.integers(0, 255, 3, dtype=np.uint8)
    path = video.encode_mp4(frames, tmp_path / "a.mp4")
    assert path.is_file()
    info = _stream_info(path)
    assert "h264" in info and "yuv420p" in info and "448x448" in info and "30 fps" in info
    assert video.frame_count(path) == 150
    back = video.read_frames(path)
    assert back.shape == (150, 448, 448, 3) and back.dtype == np.uint8
    diff = np.abs(back.astype(int) - frames.astype(int))
    assert diff.mean() < 1.0  # H.264 at CRF 23 on flat colours
    # flat areas away from edges survive within a few levels
    assert diff[:, 10:90, 10:90].max() <= 3
    assert diff[:, 320:380, 70:130].max() <= 6


def test_sample_indices_match_sarena():
    # np.linspace(0, N - 1, 8, dtype=int) truncates: 21.29 -> 21, 42.57 -> 42, 127.71 -> 127
    assert video.sample_indices(150).tolist() == [0, 21, 42, 63, 85, 106, 127, 149]
    assert video.sample_indices(149).tolist() == [0, 21, 42, 63, 84, 105, 126, 148]
    assert video.sample_indices(4, 8).tolist() == [0, 0, 0, 1, 1, 2, 2, 3]
    assert video.sample_indices(0).size == 0


def test_sample_frames_picks_sarena_indices(tmp_path):
    frames = _ramp_frames()
    path = video.encode_mp4(frames, tmp_path / "ramp.mp4")
    picked = video.sample_frames(path, 8)
    assert picked.shape == (8, 64, 64, 3)
    assert [_index_of(f) for f in picked] == [0, 21, 42, 63, 85, 106, 127, 149]
    every = video.read_frames(path)
    assert np.array_equal(picked, every[video.sample_indices(150)])


def test_sample_frames_more_than_available(tmp_path):
    path = video.encode_mp4(_ramp_frames(4), tmp_path / "short.mp4")
    picked = video.sample_frames(path, 8)
    assert picked.shape[0] == 8  # duplicate indices are kept, as OpenCV re-reads them
    assert [_index_of(f) for f in picked] == [0, 0, 0, 1, 1, 2, 2, 3]


def test_black_video(tmp_path):
    black = video.black_video()
    assert black.shape == (149, 448, 448, 3) and black.dtype == np.uint8 and black.max() == 0
    path = video.write_black_mp4(tmp_path / "black128.mp4", size=128)
    back = video.read_frames(path)
    assert back.shape == (149, 128, 128, 3)
    assert back.max() <= 1


def test_encode_from_generator_and_bad_input(tmp_path):
    gen = (np.full((32, 48, 3), i * 10, np.uint8) for i in range(5))
    path = video.encode_mp4(gen, tmp_path / "gen.mp4", fps=10)
    assert video.frame_count(path) == 5
    assert video.read_frames(path).shape == (5, 32, 48, 3)
    with pytest.raises(ValueError):
        video.encode_mp4(np.zeros((3, 33, 32, 3), np.uint8), tmp_path / "odd.mp4")
    with pytest.raises(ValueError):
        video.encode_mp4([], tmp_path / "none.mp4")
    with pytest.raises(FileNotFoundError):
        video.read_frames(tmp_path / "missing.mp4")
