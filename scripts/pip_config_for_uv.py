"""Print pip's effective index configuration as ``uv pip install`` arguments, one per line.

scripts/setup.sh installs with uv where it can; this keeps uv on the indexes, find-links and
constraints pip is configured with here (``pip config list``: files and ``PIP_*`` variables),
so both tools see the same packages. Prints nothing if pip's configuration cannot be read.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys


def pip_config() -> dict[str, list[str]]:
    """``{option: values}`` from ``pip config list``; later sources (env) win, as in pip."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                         check=True).stdout
    found: dict[str, tuple[int, list[str]]] = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        section, _, option = key.rpartition(".")
        rank = 2 if section == ":env:" else 1 if section == "install" else 0
        values = shlex.split(shlex.split(value)[0]) if value.strip() else []
        if option not in found or rank >= found[option][0]:
            found[option] = (rank, values)
    return {option: values for option, (_, values) in found.items()}


def uv_args(config: dict[str, list[str]]) -> list[str]:
    args = ["--index-strategy", "unsafe-best-match"]  # pip's rule: the best version across all indexes
    for url in config.get("index-url", []):
        args += ["--index-url", url]
    for url in config.get("extra-index-url", []):
        args += ["--extra-index-url", url]
    for link in config.get("find-links", []):
        args += ["--find-links", link]
    for path in config.get("constraint", []):
        if os.path.exists(path):
            args += ["--constraint", path]
    return args


def main() -> int:
    try:
        config = pip_config()
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 0
    if config.get("cert") and not os.environ.get("SSL_CERT_FILE"):
        return 0  # a custom certificate only pip knows about: let pip install
    print("\n".join(uv_args(config)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
