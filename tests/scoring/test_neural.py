"""Neural metrics through their real code paths, with randomly initialised networks of the real
architectures written as checkpoint files (no weights can be downloaded here): strict loading,
preprocessing equal to the published libraries', output shapes, batch invariance, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from svgarena.scoring import _clip, _dino, _inception, _lpips
from svgarena.scoring._torch import import_torchvision

from ._random_weights import write_clip, write_dino, write_inception, write_vgg16

pytestmark = pytest.mark.slow


def images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Rendered-looking images: white, with coloured blocks and a little noise."""
    rng = np.random.default_rng(seed)
    out = np.full((n, size, size, 3), 255, dtype=np.uint8)
    for k in range(n):
        for _ in range(3):
            y, x = rng.integers(0, size - size // 4, 2)
            out[k, y:y + size // 4, x:x + size // 3] = rng.integers(0, 256, 3)
        out[k] = np.clip(out[k].astype(int) + rng.integers(-8, 9, out[k].shape), 0, 255)
    return out


@pytest.fixture(scope="module")
def wdir(tmp_path_factory):
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="module")
def dino(wdir):
    return _dino.build_dino(write_dino(wdir))


@pytest.fixture(scope="module")
def inception(wdir):
    return _inception.build_inception(write_inception(wdir))


@pytest.fixture(scope="module")
def clip_b32(wdir):
    return _clip.build_clip("ViT-B-32", write_clip(wdir, "ViT-B-32"))


@pytest.fixture(scope="module")
def lpips_net(wdir):
    return _lpips.build_lpips(write_vgg16(wdir))


def _invariant(fn, x: np.ndarray, n_single: int, atol: float) -> np.ndarray:
    """A batch of len(x) equals batches of 1 (checked on the first ``n_single``); a rerun is identical."""
    full = fn(x)
    singles = np.concatenate([fn(x[i:i + 1]) for i in range(n_single)])
    assert np.allclose(full[:n_single], singles, atol=atol, rtol=1e-4), np.abs(full[:n_single] - singles).max()
    assert np.array_equal(fn(x[:2]), fn(x[:2]))  # deterministic
    return full


# -- DINO -----------------------------------------------------------------------------------------------

def test_dino_preprocessing_equals_the_hf_pil_processor():
    import_torchvision()
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil

    # facebook/dinov2-base preprocessor_config.json
    proc = BitImageProcessorPil(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                                resample=3, do_center_crop=True, do_normalize=True, do_rescale=True,
                                rescale_factor=1 / 255, image_mean=[0.485, 0.456, 0.406],
                                image_std=[0.229, 0.224, 0.225], do_convert_rgb=True)
    from PIL import Image

    x = images(2, 448, seed=1)
    ref = proc(images=[Image.fromarray(i) for i in x], return_tensors="pt")["pixel_values"]
    ours = _dino.preprocess(x)
    assert ours.shape == (2, 3, 224, 224)
    assert torch.allclose(ours, ref, atol=1e-6), (ours - ref).abs().max()


def test_dino_loads_strictly_shapes_batches(dino):
    x = images(4, 64, seed=2)
    feats = _invariant(lambda a: _dino.embed(dino, a), x, 2, atol=1e-4)
    assert feats.shape == (4, 768) and feats.dtype == np.float32
    s = _dino.dino_score(feats[:2], feats[2:])
    assert s.shape == (2,) and np.all((s >= 0) & (s <= 1))
    assert np.allclose(_dino.dino_score(feats, feats), 1.0)


def test_dino_refuses_a_checkpoint_missing_a_tensor(dino, tmp_path):
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in dino.state_dict().items()}
    state.pop("layernorm.weight")
    save_file(state, str(tmp_path / "broken.safetensors"))
    with pytest.raises(RuntimeError, match="layernorm.weight"):
        _dino.build_dino(tmp_path / "broken.safetensors")


# -- LPIPS ----------------------------------------------------------------------------------------------

def test_lpips_equals_the_package_forward_with_sarena_normalisation(lpips_net):
    x, y = images(3, 64, seed=3), images(3, 64, seed=4)
    ours = _lpips.lpips_pairs(lpips_net, x, y)
    with torch.inference_mode():
        ref = lpips_net(_lpips.prepare(x), _lpips.prepare(y)).reshape(-1).numpy()
    assert ours.shape == (3,)
    assert np.allclose(ours, ref, atol=1e-6)
    black = _lpips.black_features(lpips_net, (64, 64))
    against_black = _lpips.lpips_pairs(lpips_net, x, None, black_feats=black)
    assert np.allclose(against_black, _lpips.lpips_pairs(lpips_net, x, np.zeros_like(x)), atol=1e-6)
    assert np.allclose(_lpips.lpips_pairs(lpips_net, x, x), 0.0, atol=1e-7)


def test_lpips_batch_invariance(lpips_net):
    x, y = images(16, 48, seed=5), images(16, 48, seed=6)
    full = _lpips.lpips_pairs(lpips_net, x, y)
    single = np.concatenate([_lpips.lpips_pairs(lpips_net, x[i:i + 1], y[i:i + 1]) for i in range(16)])
    assert np.allclose(full, single, atol=1e-5)


def test_vgg_keys_map_onto_lpips_slices():
    tv = import_torchvision()
    mapped = _lpips.vgg_to_lpips_keys(tv.models.vgg16(weights=None).state_dict())
    assert len(mapped) == 26 and "slice1.0.weight" in mapped and "slice5.28.bias" in mapped


# -- Inception (FID) -------------------------------------------------------------------------------------

def test_inception_features_shapes_batches(inception):
    x = images(16, 64, seed=7)
    feats = _invariant(lambda a: _inception.inception_features(inception, a), x, 3, atol=1e-4)
    assert feats.shape == (16, 2048)
    assert feats.std() > 0  # the random network does not collapse every image to one point


# -- CLIP ViT-B/32 (FID-C) --------------------------------------------------------------------------------

def test_clip_preprocessing_equals_open_clip_transform(clip_b32):
    import open_clip
    from PIL import Image

    transform = open_clip.image_transform(224, is_train=False, mean=open_clip.OPENAI_DATASET_MEAN,
                                          std=open_clip.OPENAI_DATASET_STD)
    x = images(2, 448, seed=8)
    ref = torch.stack([transform(Image.fromarray(i)) for i in x])
    assert torch.allclose(_clip.preprocess(clip_b32, x), ref, atol=1e-6)


def test_clip_b32_features_shapes_batches(clip_b32):
    x = images(16, 64, seed=9)
    feats = _invariant(lambda a: _clip.encode_images(clip_b32, a), x, 3, atol=1e-4)
    assert feats.shape == (16, 512)
    text = _clip.encode_texts(clip_b32, ["a red circle", "a blue square"])
    assert text.shape == (2, 512)


def test_clip_score_is_the_unclamped_cosine():
    # CLIP_Score.py keeps _clip_score_update(...)[0] = 100 * (a/|a| * b/|b|).sum(-1): no clamp per sample
    a = np.array([[1.0, 0.0], [1.0, 0.0], [2.0, 2.0]])
    b = np.array([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    assert np.allclose(_clip.clip_score(a, b), [100.0, -100.0, 100 / np.sqrt(2)])


def test_openai_state_dict_loads_strictly(wdir, clip_b32):
    state = _clip.load_openai_state(wdir / "ViT-B-32.pt")
    assert set(state) == set(clip_b32.state_dict())
    broken = dict(state)
    broken.pop("visual.proj")
    with pytest.raises(RuntimeError, match="visual.proj"):
        clip_b32.load_state_dict(broken, strict=True)
