"""LocalRenderer: a pool of jailed worker processes on this machine that render untrusted SVG.

Every SVG a model writes is hostile, so it never touches this process: each render goes to a
long-lived child (``_worker.py``) that runs in the best jail the machine offers (``_jail``:
bubblewrap, else ``unshare -rn``, else a plain subprocess with a warning), under rlimits, with a
minimal environment. Under bubblewrap the worker sees the system's libraries and fonts, the
Python runtime (its own site-packages hidden) and, read-only, exactly the package files a render
imports (found once by ``_worker.py --probe``), bound under /opt/svgarena; nothing else of the
host exists inside, and it has no network. A render that outlives its wall-clock limit gets its
worker killed and replaced; a worker that dies mid-render (a resvg segfault, the OOM killer) is
replaced and the render reported as a typed failure.
"""

from __future__ import annotations

import fcntl
import functools
import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

from svgarena.sandboxes import _worker
from svgarena.sandboxes._jail import best_isolation, bwrap_argv, signal_exit, unshare_argv
from svgarena.sandboxes._pool import SandboxLimits, Worker, WorkerPool, describe_exit
from svgarena.sandboxes._types import RenderResult, RenderSpec

_WORKER_FILE = Path(_worker.__file__).resolve()
# Environment variables a worker may inherit (library lookup and fonts); everything else is dropped.
_ENV_KEEP = ("PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "FONTCONFIG_FILE", "FONTCONFIG_PATH", "LANG", "LC_ALL")
JAIL_ROOT = "/opt/svgarena"  # where a bubblewrap jail sees the worker and its packages

__all__ = ["LocalRenderer", "SandboxLimits", "render_svg", "jail_binds"]


def _base_python() -> tuple[str, str]:
    """(interpreter, prefix) of the Python install behind this (possibly virtual) environment."""
    prefix = os.path.realpath(sys.base_prefix)
    exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    if not exe.startswith(prefix + os.sep):
        exe = os.path.realpath(sys.executable)
    return exe, prefix


@functools.lru_cache(maxsize=1)
def jail_binds() -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]:
    """What a bubblewrap jail binds for the worker: ((host, inside) read-only pairs, folders to
    hide, the worker's sys.path inside). Found once by running the worker's probe (no SVG input).
    """
    exe, prefix = _base_python()
    proc = subprocess.run([sys.executable, "-I", str(_WORKER_FILE), "--probe"], capture_output=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        raise RuntimeError(f"the render worker cannot load its renderer: {proc.stderr.decode(errors='replace')[-500:]}")
    files = json.loads(proc.stdout)
    sites = {os.path.realpath(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
    sites |= {os.path.realpath(p) for p in sys.path if p.endswith("site-packages")}
    binds: dict[str, str] = {}
    hide: set[str] = set()
    site_inside = f"{JAIL_ROOT}/site"
    for f in files:
        real = os.path.realpath(f)
        for site in sites:
            if real.startswith(site + os.sep):
                top = real[len(site) + 1:].split(os.sep, 1)[0]
                if top.endswith(".py") and top.startswith("__editable__") or top == "_distutils_hack":
                    break
                binds[os.path.join(site, top)] = f"{site_inside}/{top}"
                break
    for site in sites:  # bundled shared libraries (pillow.libs, cffi.libs) and version metadata
        for extra in glob.glob(os.path.join(site, "*.libs")) + glob.glob(os.path.join(site, "cairosvg-*.dist-info")) \
                + glob.glob(os.path.join(site, "resvg_py-*.dist-info")):
            binds[extra] = f"{site_inside}/{os.path.basename(extra)}"
        if site.startswith(prefix + os.sep):
            hide.add(site)
    for key in ("purelib", "platlib"):  # the base install's own packages stay invisible
        base_site = sysconfig.get_paths(vars={"base": prefix, "platbase": prefix})[key]
        if os.path.isdir(base_site) and os.path.realpath(base_site) not in binds:
            hide.add(os.path.realpath(base_site))
    pairs = [(prefix, prefix), (str(_WORKER_FILE), f"{JAIL_ROOT}/worker.py")]
    pairs += sorted(binds.items())
    return tuple(pairs), tuple(sorted(hide)), (site_inside,)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


class _ProcessWorker(Worker):
    """One jailed child process and the pipes to it."""

    def __init__(self, limits: SandboxLimits, isolation: str, start_timeout_s: float) -> None:
        self.isolation = isolation
        self.tmpdir = tempfile.mkdtemp(prefix="svgarena-render-")
        env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
        env.setdefault("LANG", "C.UTF-8")
        args = limits.as_worker_args()
        if isolation == "bwrap":
            binds, hide, sys_path = jail_binds()
            exe, _prefix = _base_python()
            args["sys_path"] = list(sys_path)
            env.update(HOME="/tmp", TMPDIR="/tmp", XDG_CACHE_HOME="/tmp")
            argv = bwrap_argv([exe, "-I", "-S", f"{JAIL_ROOT}/worker.py", json.dumps(args)],
                              ro_binds=binds, hide=hide)
        else:
            env.update(HOME=self.tmpdir, TMPDIR=self.tmpdir, XDG_CACHE_HOME=self.tmpdir)
            argv = [sys.executable, "-I", str(_WORKER_FILE), json.dumps(args)]
            if isolation == "unshare":
                argv = unshare_argv(argv)
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=self.tmpdir, env=env, close_fds=True, start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            raise
        self.pid = self.proc.pid  # replaced by the renderer's own pid once it is known
        self.label = f"renderer worker (pid {self.pid})"
        self._in_fd = self.proc.stdin.fileno()
        self._out_fd = self.proc.stdout.fileno()
        os.set_blocking(self._in_fd, False)
        os.set_blocking(self._out_fd, False)
        for fd in (self._in_fd, self._out_fd):  # one 448x448 image per pipe fill, not ten
            try:
                fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
            except OSError:
                pass
        self.handshake(start_timeout_s)
        if isolation == "bwrap":  # bwrap -> (pid-namespace init) -> python: report the python
            pid = self.pid
            for _ in range(4):
                kids = _children(pid)
                if not kids:
                    break
                pid = kids[0]
            self.pid = pid
            self.label = f"renderer worker (pid {self.pid})"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_reason(self) -> str:
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        return describe_exit(code, signal_exit(code, jailed=self.isolation != "none"))

    def kill(self) -> None:
        if self.proc.poll() is None:
            for pid in {self.pid, self.proc.pid}:
                try:
                    os.kill(pid, 9)
                except (ProcessLookupError, PermissionError):
                    pass
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        self._cleanup()

    def stop(self, grace_s: float = 1.0) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self._cleanup()

    def _cleanup(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class LocalRenderer(WorkerPool):
    """A pool of jailed render workers on this machine (implements ``Renderer``).

    ``isolation`` picks the jail (``bwrap``, ``unshare``, ``none``; default: the best that works
    here, or ``$SVGARENA_ISOLATION``). See ``WorkerPool`` for sizes and limits.
    """

    name = "local"

    def __init__(self, size: int | None = None, *, isolation: str | None = None, **kwargs) -> None:
        self.isolation = best_isolation(isolation)
        super().__init__(size, **kwargs)

    def _spawn(self) -> Worker:
        return _ProcessWorker(self.limits, self.isolation, self.start_timeout_s)


_default: LocalRenderer | None = None
_default_lock = threading.Lock()


def render_svg(svg: str, spec: RenderSpec | None = None) -> RenderResult:
    """Render one SVG with a shared, lazily started pool (for scripts and the CLI)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = LocalRenderer()
    return _default.render_svg(svg, spec)
