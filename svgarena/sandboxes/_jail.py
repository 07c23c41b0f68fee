"""The jail a local worker runs in: the best isolation this machine offers, found once.

Three levels, tried in this order:

* ``bwrap`` (bubblewrap): every namespace unshared (user, mount, pid, network, ipc, uts, cgroup),
  running as ``nobody`` with no capabilities, a read-only view of the system (``/usr``, the
  dynamic-linker cache, fontconfig), a private tmpfs ``/tmp``, and nothing else of the host but
  the paths the caller hands in read-only (the Python runtime and the packages the worker imports).
  Host files such as the run folder or ``/root`` do not exist inside.
* ``unshare``: ``unshare -rn``, a new user and network namespace (no network at all), same files.
* ``none``: a plain subprocess, with a one-time warning that isolation is reduced.

Resource limits (rlimits) are applied by the worker itself in every case. The chosen level can be
forced with ``$SVGARENA_ISOLATION`` (``bwrap``, ``unshare`` or ``none``) or per pool.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Sequence

log = logging.getLogger("svgarena.sandboxes")

ISOLATIONS = ("bwrap", "unshare", "none")
NOBODY = 65534

# Host paths a jailed process may read (when they exist): libraries, fonts, linker cache.
SYSTEM_RO = ("/usr", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts",
             "/var/cache/fontconfig", "/etc/alternatives", "/etc/localtime")
_TOP_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

_lock = threading.Lock()
_probed: dict[str, str | None] = {}  # isolation -> None when it works, else why not
_warned = False


def _system_args() -> list[str]:
    args: list[str] = []
    for top in _TOP_LINKS:  # merged-/usr systems: symlinks; others: directories
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in SYSTEM_RO:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_argv(
    argv: Sequence[str],
    *,
    ro_binds: Sequence[tuple[str, str]] = (),
    rw_binds: Sequence[tuple[str, str]] = (),
    hide: Sequence[str] = (),
    tmpfs: Sequence[str] = (),
    share_net: bool = False,
    chdir: str = "/tmp",
) -> list[str]:
    """The bubblewrap command line that runs ``argv`` jailed.

    ``ro_binds``/``rw_binds`` are (host path, path inside) pairs; ``hide`` paths get an empty tmpfs
    over them (e.g. a site-packages folder inside a bound Python prefix).
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    args = [
        bwrap, "--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY),
        "--cap-drop", "ALL", "--die-with-parent", "--new-session",
        *_system_args(),
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
    ]
    if share_net:
        args.append("--share-net")
    for src, dst in ro_binds:
        args += ["--ro-bind", src, dst]
    for path in hide:
        args += ["--tmpfs", path]
    for path in tmpfs:
        args += ["--tmpfs", path]
    for src, dst in rw_binds:
        args += ["--bind", src, dst]
    args += ["--chdir", chdir, "--"]
    return args + list(argv)


def unshare_argv(argv: Sequence[str]) -> list[str]:
    """``unshare -rn``: new user namespace (mapped root, no real privilege) and no network."""
    return [shutil.which("unshare") or "unshare", "-r", "-n", "--", *argv]


def _probe(isolation: str) -> str | None:
    """None when ``isolation`` works here (a jailed ``true`` exits 0), else the reason."""
    if isolation == "none":
        return None
    tool = "bwrap" if isolation == "bwrap" else "unshare"
    if shutil.which(tool) is None:
        return f"{tool} is not installed"
    argv = bwrap_argv(["true"]) if isolation == "bwrap" else unshare_argv(["true"])
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=20, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{tool} failed: {exc}"
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return f"{tool} failed: {err[-1] if err else f'exit status {proc.returncode}'}"
    return None


def isolation_problem(isolation: str) -> str | None:
    """Why ``isolation`` cannot be used here (None when it can); probed once per process."""
    if isolation not in ISOLATIONS:
        raise ValueError(f"unknown isolation {isolation!r}; use one of {', '.join(ISOLATIONS)}")
    with _lock:
        if isolation not in _probed:
            _probed[isolation] = _probe(isolation)
        return _probed[isolation]


def best_isolation(requested: str | None = None) -> str:
    """The isolation to use: ``requested`` (or ``$SVGARENA_ISOLATION``) if given, else the best
    that works here. A forced level that does not work raises ``RuntimeError`` with the reason;
    falling back to ``none`` logs a warning once per process."""
    global _warned
    requested = requested or os.environ.get("SVGARENA_ISOLATION") or None
    if requested:
        problem = isolation_problem(requested)
        if problem:
            raise RuntimeError(f"isolation {requested!r} is not available here: {problem}")
        return requested
    reasons = []
    for level in ("bwrap", "unshare"):
        problem = isolation_problem(level)
        if problem is None:
            return level
        reasons.append(problem)
    if not _warned:
        _warned = True
        log.warning("render workers run as plain subprocesses (rlimits only): isolation is reduced "
                    "(%s); install bubblewrap for a full jail", "; ".join(reasons))
    return "none"


def signal_exit(code: int | None, jailed: bool) -> int | None:
    """The signal behind an exit status: negative codes from Popen, and 128+N from wrappers
    (bwrap, a container runtime) that report a child killed by signal N that way."""
    if code is None:
        return None
    if code < 0:
        return -code
    if jailed and 128 < code < 128 + 65:
        return code - 128
    return None
