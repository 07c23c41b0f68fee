"""Which GPUs this process may use: what ``nvidia-smi`` lists, narrowed by ``CUDA_VISIBLE_DEVICES``."""

from __future__ import annotations

import os
import shutil
import subprocess


class ServeError(RuntimeError):
    """A server cannot be started or kept alive; the message says what to do."""


def visible_gpus() -> list[str]:
    """GPU ids (as ``CUDA_VISIBLE_DEVICES`` would name them) that the servers may use; raises ServeError if none.

    ``nvidia-smi --query-gpu=index,uuid`` gives the GPUs present. ``CUDA_VISIBLE_DEVICES``, when set,
    keeps only those it names (by index or UUID, in its order); set to an empty string or ``-1`` it
    hides them all, exactly as CUDA does.
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        raise ServeError("no GPU visible: nvidia-smi is not on PATH (install the NVIDIA driver, or run on a GPU machine)")
    try:
        out = subprocess.run([exe, "--query-gpu=index,uuid", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServeError(f"no GPU visible: nvidia-smi failed ({exc})") from None
    if out.returncode != 0:
        first = (out.stderr or out.stdout).strip().splitlines()[:1]
        raise ServeError(f"no GPU visible: nvidia-smi failed: {first[0] if first else f'exit code {out.returncode}'}")
    present: list[tuple[str, str]] = []
    for line in out.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit():
            present.append((parts[0], parts[1]))
    if not present:
        raise ServeError("no GPU visible: nvidia-smi lists no GPU")
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    if mask is None:
        return [index for index, _ in present]
    wanted = [w.strip() for w in mask.split(",") if w.strip()]
    if wanted and wanted[0] == "-1":
        wanted = []
    chosen = []
    for w in wanted:
        for index, uuid in present:
            if w == index or (w.startswith("GPU-") and uuid.startswith(w)):
                chosen.append(w)
                break
        else:
            break  # CUDA ignores everything from the first invalid entry on
    if not chosen:
        raise ServeError(f"no GPU visible: CUDA_VISIBLE_DEVICES={mask!r} hides every GPU "
                         f"(present: {', '.join(i for i, _ in present)})")
    return chosen


def pick_gpus(requested: str | None) -> list[str]:
    """The GPUs to serve on: ``--gpus 0,1`` (each must be visible) or every visible one."""
    visible = visible_gpus()
    if not requested:
        return visible
    chosen = [g.strip() for g in requested.split(",") if g.strip()]
    missing = [g for g in chosen if g not in visible]
    if missing:
        raise ServeError(f"GPU {', '.join(missing)} not visible; visible GPUs: {', '.join(visible)}")
    if len(set(chosen)) != len(chosen):
        raise ServeError(f"--gpus {requested} names a GPU twice")
    return chosen
