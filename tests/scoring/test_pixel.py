"""SSIM / PSNR agree with scikit-image as SArena calls it."""

from __future__ import annotations

import io

import cairosvg
import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from svgarena.scoring import black_image, load_image, psnr, psnr_batch, ssim, ssim_batch


def sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(a, b, win_size=11, channel_axis=-1, sigma=1.5)  # SArena's call


def sk_psnr(a: np.ndarray, b: np.ndarray) -> float:
    with np.errstate(divide="ignore"):
        value = peak_signal_noise_ratio(a, b)
    return 100.0 if np.isinf(value) else value


def render(svg: str) -> np.ndarray:
    png = cairosvg.svg2png(bytestring=svg.encode(), background_color="white", output_width=448, output_height=448)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128">{}</svg>'


@pytest.fixture(scope="module")
def renders() -> list[np.ndarray]:
    bodies = [
        '<circle cx="64" cy="64" r="40" fill="#e11d48"/>',
        '<circle cx="66" cy="62" r="38" fill="#be123c"/>',
        '<rect x="20" y="30" width="90" height="60" rx="8" fill="none" stroke="#0f172a" stroke-width="6"/>',
        '<path d="M10 110 C40 10 90 10 118 110" stroke="#16a34a" stroke-width="9" fill="#bbf7d0" opacity=".6"/>',
    ]
    return [render(SVG.format(b)) for b in bodies]


def test_random_images_match_skimage():
    rng = np.random.default_rng(1)
    for shape in ((448, 448, 3), (64, 97, 3), (11, 11, 3)):
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        b = np.clip(a.astype(int) + rng.integers(-40, 41, shape), 0, 255).astype(np.uint8)
        assert ssim(a, b) == pytest.approx(sk_ssim(a, b), abs=1e-9)
        assert psnr(a, b) == pytest.approx(sk_psnr(a, b), abs=1e-9)
        c = rng.integers(0, 256, shape, dtype=np.uint8)
        assert ssim(a, c) == pytest.approx(sk_ssim(a, c), abs=1e-9)


def test_real_renders_match_skimage(renders):
    for ref in renders:
        for pred in renders:
            assert ssim(ref, pred) == pytest.approx(sk_ssim(ref, pred), abs=1e-9)
            assert psnr(ref, pred) == pytest.approx(sk_psnr(ref, pred), abs=1e-9)


def test_batches_match_pairs(renders):
    refs = np.stack(renders)
    preds = np.stack(renders[1:] + renders[:1])
    pairs = list(zip(refs, preds, strict=True))
    np.testing.assert_allclose(ssim_batch(refs, preds), [sk_ssim(r, p) for r, p in pairs], atol=1e-9, rtol=0)
    np.testing.assert_allclose(psnr_batch(refs, preds), [sk_psnr(r, p) for r, p in pairs], atol=1e-9, rtol=0)


def test_identical_images(renders):
    assert ssim(renders[0], renders[0].copy()) == pytest.approx(1.0, abs=1e-12)
    assert psnr(renders[0], renders[0].copy()) == 100.0
    assert psnr_batch(np.stack(renders), np.stack(renders)).tolist() == [100.0] * len(renders)


def test_black_against_white():
    white = np.full((448, 448, 3), 255, np.uint8)
    black = black_image()
    assert black.shape == (448, 448, 3) and black.dtype == np.uint8 and not black.any()
    assert psnr(white, black) == pytest.approx(0.0, abs=1e-12)
    assert ssim(white, black) == pytest.approx(sk_ssim(white, black), abs=1e-9)
    assert ssim(white, black) < 1e-3


def test_black_against_a_render(renders):
    black = black_image()
    assert ssim(renders[2], black) == pytest.approx(sk_ssim(renders[2], black), abs=1e-9)
    assert psnr(renders[2], black) == pytest.approx(sk_psnr(renders[2], black), abs=1e-9)


def test_shape_and_dtype_errors():
    a = black_image(448)
    with pytest.raises(ValueError, match="shape"):
        ssim(a, black_image(224))
    with pytest.raises(ValueError, match="shape"):
        psnr(a, black_image(224))
    with pytest.raises(ValueError, match="uint8"):
        ssim(a, a.astype(np.float64))
    with pytest.raises(ValueError, match="RGB"):
        ssim(a[..., 0], a[..., 0])
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(black_image(8), black_image(8))


def test_load_image(tmp_path, renders):
    path = tmp_path / "ref.png"
    Image.fromarray(renders[0]).convert("RGBA").save(path)
    loaded = load_image(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (448, 448, 3)
    np.testing.assert_array_equal(loaded, renders[0])
    small = tmp_path / "small.png"
    Image.fromarray(renders[0]).resize((128, 128)).save(small)
    assert load_image(small).shape == (448, 448, 3)
