"""Keeping API keys out of everything svgarena writes: every text that leaves a model call is scrubbed.

A value is secret if it is the key a call used, or the value of any environment variable whose
name looks like a credential (``*_API_KEY``, ``*_KEY``, ``*_TOKEN``, ``*_SECRET``) and is at least
8 characters long. The candidate names are re-read whenever the environment changes size; their
values are read on every call, so a key set or changed at run time is masked too.
"""

from __future__ import annotations

import os

MASK = "***"
_names: list[str] = []
_env_size = -1


def _candidate_names() -> list[str]:
    global _names, _env_size
    if len(os.environ) != _env_size:
        _env_size = len(os.environ)
        _names = [n for n in os.environ
                  if n.upper().endswith(("_API_KEY", "_KEY", "_TOKEN", "_SECRET")) or "API_KEY" in n.upper()]
    return _names


def secret_values(extra: str | None = None) -> list[str]:
    """The values to mask, longest first (so a key that contains another is masked whole)."""
    found = {extra} if extra and len(extra) >= 8 else set()
    for name in _candidate_names():
        value = os.environ.get(name)
        if value and len(value) >= 8:
            found.add(value)
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secret: str | None = None) -> str:
    """``text`` with ``secret`` and every credential-like environment value replaced by ``***``."""
    for value in secret_values(secret):
        if value in text:
            text = text.replace(value, MASK)
    return text
