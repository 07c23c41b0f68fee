"""Choosing a static-render backend by name: ``local`` (jailed processes) or ``docker``."""

from __future__ import annotations

from svgarena.sandboxes._pool import RENDERERS, WorkerPool

BACKENDS = ("local", "docker")


def check_choice(backend: str, renderer: str) -> None:
    """Raise ValueError (one sentence) for an unknown backend or renderer name."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r}; use one of {', '.join(RENDERERS)}")


def open_backend(backend: str = "local", size: int | None = None, *, run: str = "", **kwargs) -> WorkerPool:
    """A started pool for ``backend``: ``LocalRenderer`` or ``DockerRenderer`` (``run`` labels
    its containers). Raises ValueError for an unknown name, RuntimeError when the backend
    cannot run here (no Docker engine, no image), each with one clear sentence."""
    if backend == "local":
        from svgarena.sandboxes._local import LocalRenderer

        return LocalRenderer(size, **kwargs)
    if backend == "docker":
        from svgarena.sandboxes._docker import DockerRenderer

        return DockerRenderer(size, run=run, **kwargs)
    raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
