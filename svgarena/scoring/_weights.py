"""The checkpoint manifest: every file a metric needs, where it lives, how to fetch and verify it.

Each ``Checkpoint`` is one file. It is looked for first in a weights folder (``--weights-dir`` or
``$SVGARENA_WEIGHTS``: files copied to an air-gapped machine, under the checkpoint's
``filename``), then in the cache its library would use (the Hugging Face hub cache, the torch hub
cache, open_clip/OpenAI-CLIP's ``~/.cache/clip``, or the installed package that ships it).
Nothing here downloads unless ``fetch`` is called.

Hashes: ``sha256`` is set only where the published digest is known from the publisher itself
(OpenAI CLIP's download URL carries the full sha256; torch hub and pytorch-fid file names carry
its first 8 hex digits, ``sha256_prefix``). Where no digest is published (Hugging Face files),
the digest is recorded on the first successful ``fetch`` (or ``verify``) in
``~/.cache/svgarena/checkpoints.json`` and checked against that record afterwards; ``weights list``
says which kind of hash each file has.

Other modules add their checkpoints with :func:`register_checkpoint` (or by adding to
``CHECKPOINTS``, a dict name -> Checkpoint).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

WEIGHTS_ENV = "SVGARENA_WEIGHTS"


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint file and everything needed to find, fetch and check it."""

    name: str  # manifest key, used on the command line: svgarena weights fetch NAME
    metrics: tuple[str, ...]  # metrics that cannot run without it
    filename: str  # its name inside --weights-dir
    description: str
    cache: str  # where its library keeps it: "hf", "torch", "clip" or "package"
    url: str | None = None  # direct download (torch / clip caches)
    hf_repo: str | None = None  # Hugging Face repo and file (hf cache)
    hf_file: str | None = None
    package_file: str | None = None  # "<module>:<relative path>" for files shipped inside a pip package
    gated: bool = False  # Hugging Face repo that needs an accepted licence and a login
    sha256: str | None = None  # full published digest
    sha256_prefix: str | None = None  # leading hex digits published in the file name
    size: int | None = None  # bytes, where published
    approx_mb: int | None = None  # what to expect when the exact size is not published
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def fetch_command(self) -> str:
        return f"svgarena weights fetch {self.name}"

    def hash_kind(self) -> str:
        if self.sha256:
            return "sha256 of lpips 0.1.4's packaged file" if self.cache == "package" else "published sha256"
        if self.sha256_prefix:
            return f"published sha256 prefix {self.sha256_prefix}"
        return "no published sha256: recorded on first fetch"


class CheckpointMissing(RuntimeError):
    """A checkpoint a metric needs is not on this machine; the message says how to get it."""

    def __init__(self, checkpoint: Checkpoint, looked: Iterable[Path], metrics: Iterable[str] | None = None) -> None:
        self.checkpoint = checkpoint
        self.looked = [str(p) for p in looked]
        self.metrics = tuple(metrics or checkpoint.metrics)
        super().__init__(self.line())

    def line(self, metrics: Iterable[str] | None = None) -> str:
        ck = self.checkpoint
        names = ", ".join(metrics or self.metrics)
        where = "; ".join(self.looked) or "nowhere"
        login = " (gated on Hugging Face: log in first, see `svgarena weights list`)" if ck.gated else ""
        return (f"skipped {names}: checkpoint {ck.name} ({ck.filename}) is not present (looked in {where}); "
                f"fetch it with: {ck.fetch_command}{login}")


class CheckpointCorrupt(RuntimeError):
    """A checkpoint file exists but its hash disagrees with the published or recorded one."""


# -- the manifest ------------------------------------------------------------------------------

CHECKPOINTS: dict[str, Checkpoint] = {}


def register_checkpoint(checkpoint: Checkpoint, *, replace: bool = False) -> Checkpoint:
    """Add a checkpoint to the manifest (other metric modules call this at import)."""
    if checkpoint.name in CHECKPOINTS and not replace and CHECKPOINTS[checkpoint.name] != checkpoint:
        raise ValueError(f"checkpoint {checkpoint.name} is already registered differently")
    CHECKPOINTS[checkpoint.name] = checkpoint
    return checkpoint


for _ck in (
    Checkpoint(
        name="dinov2-base", metrics=("dino", "dino_video"), filename="dinov2-base.safetensors",
        description="DINOv2 ViT-B/14 (facebook/dinov2-base), as SArena's DINO score loads it",
        cache="hf", hf_repo="facebook/dinov2-base", hf_file="model.safetensors", approx_mb=346,
    ),
    Checkpoint(
        name="vgg16-imagenet", metrics=("lpips", "lpips_video"), filename="vgg16-397923af.pth",
        description="torchvision VGG16 ImageNet weights, the backbone lpips.LPIPS(net='vgg') downloads",
        cache="torch", url="https://download.pytorch.org/models/vgg16-397923af.pth",
        sha256_prefix="397923af", approx_mb=528,
    ),
    Checkpoint(
        name="lpips-vgg-lin", metrics=("lpips", "lpips_video"), filename="lpips-vgg-v0.1.pth",
        description="LPIPS v0.1 linear layers for VGG, shipped inside the lpips package",
        cache="package", package_file="lpips:weights/v0.1/vgg.pth", size=7289,
        # sha256 of the file as the lpips 0.1.4 wheel on PyPI ships it (hashed from that wheel's install)
        sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
    ),
    Checkpoint(
        name="clip-vit-l-14-openai", metrics=("clip_t2i", "clip_i2i"), filename="ViT-L-14.pt",
        description="OpenAI CLIP ViT-L/14 (open_clip 'ViT-L-14', pretrained='openai')",
        cache="clip",
        url="https://openaipublic.azureedge.net/clip/models/"
            "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
        sha256="b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836", approx_mb=890,
    ),
    Checkpoint(
        name="clip-vit-b-32-openai", metrics=("fid_c",), filename="ViT-B-32.pt",
        description="OpenAI CLIP ViT-B/32, the FID-C feature network",
        cache="clip",
        url="https://openaipublic.azureedge.net/clip/models/"
            "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
        sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af", approx_mb=338,
    ),
    Checkpoint(
        name="inception-fid", metrics=("fid",), filename="pt_inception-2015-12-05-6726825d.pth",
        description="pytorch-fid's InceptionV3 (TensorFlow FID weights ported to PyTorch)",
        cache="torch",
        url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
        sha256_prefix="6726825d", approx_mb=91,
    ),
):
    register_checkpoint(_ck)


def checkpoints_for(metrics: Iterable[str]) -> list[Checkpoint]:
    wanted = set(metrics)
    return [ck for ck in CHECKPOINTS.values() if wanted & set(ck.metrics)]


def get_checkpoint(name: str) -> Checkpoint:
    try:
        return CHECKPOINTS[name]
    except KeyError:
        raise KeyError(f"unknown checkpoint {name!r}; known: {', '.join(sorted(CHECKPOINTS))}") from None


# -- where files live --------------------------------------------------------------------------

def weights_dir(explicit: str | Path | None = None) -> Path | None:
    value = explicit if explicit is not None else os.environ.get(WEIGHTS_ENV)
    return Path(value).expanduser() if value else None


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder, computed the way torch does, without importing torch."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def clip_cache() -> Path:
    """Where open_clip and OpenAI's clip put the OpenAI .pt files."""
    return Path("~/.cache/clip").expanduser()


def svgarena_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "svgarena"


def _hf_cached(ck: Checkpoint) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    cache_dir = os.environ.get("HF_HUB_CACHE") or (
        os.path.join(os.environ["HF_HOME"], "hub") if os.environ.get("HF_HOME") else None)
    hit = try_to_load_from_cache(ck.hf_repo, ck.hf_file, cache_dir=cache_dir)
    return Path(hit) if isinstance(hit, str) else None


def _package_file(ck: Checkpoint) -> Path | None:
    import importlib.util

    module, _, rel = (ck.package_file or "").partition(":")
    spec = importlib.util.find_spec(module) if module else None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / rel


def candidates(ck: Checkpoint, weights: str | Path | None = None) -> list[Path]:
    """Every place the checkpoint is looked for, in order."""
    out: list[Path] = []
    wdir = weights_dir(weights)
    if wdir is not None:
        out.append(wdir / ck.filename)
    if ck.cache == "torch" and ck.url:
        out.append(torch_hub_checkpoints() / Path(ck.url).name)
    elif ck.cache == "clip" and ck.url:
        out.append(clip_cache() / Path(ck.url).name)
    elif ck.cache == "hf" and ck.hf_repo:
        hit = _hf_cached(ck)
        out.append(hit if hit is not None else Path(f"<Hugging Face cache>/{ck.hf_repo}/{ck.hf_file}"))
    elif ck.cache == "package":
        pkg = _package_file(ck)
        if pkg is not None:
            out.append(pkg)
        else:
            out.append(Path(f"<package {ck.package_file}>"))
    return out


def find(ck: Checkpoint | str, weights: str | Path | None = None) -> Path | None:
    ck = get_checkpoint(ck) if isinstance(ck, str) else ck
    for path in candidates(ck, weights):
        if path.is_file():
            return path
    return None


def env_checkpoint(env: str, filename: str) -> tuple[Path | None, list[Path]]:
    """A checkpoint named by environment variable ``env`` (a file, or a folder holding ``filename``):
    (the path if it exists, the places looked at)."""
    value = os.environ.get(env)
    if not value:
        return None, []
    p = Path(value).expanduser()
    p = p / filename if p.is_dir() else p
    return (p, []) if p.is_file() else (None, [p])


def require(ck: Checkpoint | str, weights: str | Path | None = None, metrics: Iterable[str] | None = None) -> Path:
    """The checkpoint's path, or ``CheckpointMissing`` naming where it looked and the fetch command."""
    ck = get_checkpoint(ck) if isinstance(ck, str) else ck
    path = find(ck, weights)
    if path is None:
        raise CheckpointMissing(ck, candidates(ck, weights), metrics)
    return path


# -- hashes ------------------------------------------------------------------------------------

def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _records_path() -> Path:
    return svgarena_cache() / "checkpoints.json"


def recorded() -> dict[str, dict]:
    path = _records_path()
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _record(ck: Checkpoint, path: Path, digest: str) -> None:
    records = recorded()
    records[ck.name] = {"sha256": digest, "size": path.stat().st_size, "path": str(path),
                        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S")}
    target = _records_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=2, sort_keys=True))
    os.replace(tmp, target)


@dataclass(frozen=True)
class VerifyResult:
    name: str
    path: Path | None
    status: str  # ok | recorded | mismatch | missing
    detail: str


def verify(ck: Checkpoint | str, weights: str | Path | None = None) -> VerifyResult:
    """Hash the file and compare with the published digest (or prefix), else with the recorded one."""
    ck = get_checkpoint(ck) if isinstance(ck, str) else ck
    path = find(ck, weights)
    if path is None:
        return VerifyResult(ck.name, None, "missing", f"not present; fetch it with: {ck.fetch_command}")
    digest = sha256_file(path)
    if ck.sha256:
        ok = digest == ck.sha256
        return VerifyResult(ck.name, path, "ok" if ok else "mismatch",
                            f"sha256 {digest} {'matches' if ok else 'differs from'} the published {ck.sha256}")
    if ck.sha256_prefix:
        ok = digest.startswith(ck.sha256_prefix)
        return VerifyResult(ck.name, path, "ok" if ok else "mismatch",
                            f"sha256 {digest} {'starts' if ok else 'does not start'} with the published "
                            f"prefix {ck.sha256_prefix}")
    known = recorded().get(ck.name)
    if known and known.get("sha256"):
        ok = digest == known["sha256"]
        return VerifyResult(ck.name, path, "ok" if ok else "mismatch",
                            f"sha256 {digest} {'matches' if ok else 'differs from'} the one recorded "
                            f"{known.get('recorded', '')} (no published digest exists)")
    _record(ck, path, digest)
    return VerifyResult(ck.name, path, "recorded",
                        f"sha256 {digest} recorded now; no published digest exists to check it against")


# -- fetching ----------------------------------------------------------------------------------

def _download(url: str, target: Path, progress: Callable[[str], None],
              on_bytes: Callable[[int, int | None], None] | None = None) -> None:
    import urllib.request

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.part")
    progress(f"downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=60) as src, open(tmp, "wb") as out:
            length = src.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            got = 0
            if on_bytes is not None:
                on_bytes(0, total)
            while block := src.read(1 << 22):
                out.write(block)
                got += len(block)
                if on_bytes is not None:
                    on_bytes(got, total)
        os.replace(tmp, target)
    except OSError as exc:  # URLError is an OSError
        reason = getattr(exc, "reason", exc)
        raise ConnectionError(f"could not download {url} ({reason}); on a machine without internet, copy "
                              f"{target.name} from one that has it into a folder and pass --weights-dir") from None
    finally:
        tmp.unlink(missing_ok=True)


def fetch(ck: Checkpoint | str, weights: str | Path | None = None,
          progress: Callable[[str], None] = lambda s: None,
          on_bytes: Callable[[int, int | None], None] | None = None) -> Path:
    """Download a checkpoint where the network allows, into ``--weights-dir`` if one is given, else
    into its library's cache; then verify it (a digest that disagrees removes nothing but raises).
    ``on_bytes(received, total or None)`` follows a direct download block by block (Hugging Face
    downloads show their own progress bar)."""
    ck = get_checkpoint(ck) if isinstance(ck, str) else ck
    wdir = weights_dir(weights)
    existing = find(ck, weights)
    if existing is not None and (wdir is None or existing.parent == wdir):
        progress(f"{ck.name}: already present at {existing}")
    elif ck.cache == "package":
        src = _package_file(ck)
        if src is None or not src.is_file():
            raise FileNotFoundError(f"{ck.name}: install the package that ships it ({ck.package_file.split(':')[0]})")
        if wdir is not None:
            import shutil

            wdir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, wdir / ck.filename)
    elif ck.url:
        target = (wdir / ck.filename) if wdir is not None else candidates(ck)[-1]
        _download(ck.url, target, progress, on_bytes)
    elif ck.hf_repo:
        _fetch_hf(ck, wdir, progress)
    else:
        raise ValueError(f"{ck.name}: no download source is known")
    result = verify(ck, weights)
    if result.status == "mismatch":
        raise CheckpointCorrupt(f"{ck.name}: {result.detail}; delete {result.path} and fetch again")
    progress(f"{ck.name}: {result.detail}")
    return result.path  # type: ignore[return-value]


def _fetch_hf(ck: Checkpoint, wdir: Path | None, progress: Callable[[str], None]) -> None:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes"):
        raise ConnectionError(f"{ck.name}: HF_HUB_OFFLINE is set; unset it to download from Hugging Face")
    from huggingface_hub import hf_hub_download

    progress(f"downloading {ck.hf_repo}/{ck.hf_file} from Hugging Face")
    try:
        path = Path(hf_hub_download(ck.hf_repo, ck.hf_file))
    except Exception as exc:  # noqa: BLE001 - turned into one line with the way out
        hint = (f" {ck.hf_repo} is gated: accept its licence on huggingface.co/{ck.hf_repo} and log in with "
                f"`hf auth login` (or set HF_TOKEN) first.") if ck.gated else ""
        raise ConnectionError(f"{ck.name}: download failed ({type(exc).__name__}: {exc}).{hint}") from None
    if wdir is not None:
        import shutil

        wdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, wdir / ck.filename)


def login_hint(ck: Checkpoint) -> str | None:
    if not ck.gated:
        return None
    return (f"gated: accept the licence at https://huggingface.co/{ck.hf_repo}, then `hf auth login` "
            f"(or export HF_TOKEN=...) before `{ck.fetch_command}`")
