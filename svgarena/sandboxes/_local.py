"""LocalRenderer: a pool of sandboxed worker processes that render untrusted SVG.

Every SVG a model writes is hostile, so it never touches this process: each render goes to a
long-lived child (``_worker.py``) that runs under resource limits, in a private temp dir, with
a minimal environment. A render that outlives its wall-clock limit gets its worker killed and
replaced; a worker that dies mid-render is replaced and the render reported as a typed failure.

The pool is driven by plain threads and blocking pipes with deadlines, so the same object
serves asyncio code (``await render``), scripts (``render_svg``) and several event loops.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import queue
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svgarena.outcome import Outcome
from svgarena.sandboxes import _worker
from svgarena.sandboxes._types import RenderResult, RenderSpec

_FRAME = _worker._FRAME
_WORKER_FILE = Path(_worker.__file__).resolve()
# Environment variables a worker may inherit (library lookup and fonts); everything else is dropped.
_ENV_KEEP = ("PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "FONTCONFIG_FILE", "FONTCONFIG_PATH", "LANG", "LC_ALL")
MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits each worker applies to itself before it reads any SVG."""

    memory_bytes: int = 2 << 30  # RLIMIT_AS
    cpu_s_per_render: int | None = None  # RLIMIT_CPU soft budget per render; None: timeout + 2 s
    cpu_s_lifetime: int = 6 * 3600  # RLIMIT_CPU hard limit over the worker's life
    file_size_bytes: int = 0  # RLIMIT_FSIZE: a renderer writes no files
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int | None = 0  # RLIMIT_NPROC: no forks (root is exempt); None leaves it alone

    def as_worker_args(self) -> dict[str, int]:
        out = {
            "as_bytes": self.memory_bytes,
            "cpu_s": self.cpu_s_lifetime,
            "render_cpu_s": self.cpu_s_per_render or 30,
            "fsize_bytes": self.file_size_bytes,
            "nofile": self.open_files,
        }
        if self.processes is not None:
            out["nproc"] = self.processes
        return out


class _WorkerDied(Exception):
    """The worker process ended or broke the protocol."""


class _Deadline(Exception):
    """The wall-clock limit passed before the worker answered."""


def _signal_name(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


class _Worker:
    """One child process and the pipes to it; all I/O is bounded by deadlines."""

    def __init__(self, limits: SandboxLimits, start_timeout_s: float) -> None:
        self.tmpdir = tempfile.mkdtemp(prefix="svgarena-render-")
        env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
        env.update(HOME=self.tmpdir, TMPDIR=self.tmpdir, XDG_CACHE_HOME=self.tmpdir,
                   OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
        env.setdefault("LANG", "C.UTF-8")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(_WORKER_FILE), json.dumps(limits.as_worker_args())],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=self.tmpdir, env=env, close_fds=True, start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            raise
        self.pid = self.proc.pid
        self.renders = 0
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        try:
            head, _ = self._recv(time.monotonic() + start_timeout_s, max_body=0)
        except (_WorkerDied, _Deadline) as exc:
            self.kill()
            raise RuntimeError(f"the render worker did not start ({exc or type(exc).__name__})") from None
        if not head.get("ready"):
            self.kill()
            raise RuntimeError(f"the render worker could not start: {head.get('reason', 'no reason given')}")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def _died(self) -> _WorkerDied:
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        return _WorkerDied(f"renderer worker (pid {self.pid}) {_signal_name(code)}")

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(self._in, selectors.EVENT_WRITE)
            while view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Deadline()
                if not sel.select(left):
                    continue
                try:
                    n = os.write(self._in, view)
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError):
                    raise self._died() from None
                view = view[n:]

    def _read_into(self, buf: memoryview, deadline: float, sel: selectors.BaseSelector) -> None:
        while buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Deadline()
            if not sel.select(left):
                continue
            try:
                n = os.readv(self._out, [buf])
            except BlockingIOError:
                continue
            except OSError:
                raise self._died() from None
            if n == 0:
                raise self._died()
            buf = buf[n:]

    def _recv(self, deadline: float, max_body: int) -> tuple[dict, bytearray]:
        with selectors.DefaultSelector() as sel:
            sel.register(self._out, selectors.EVENT_READ)
            frame = bytearray(_FRAME.size)
            self._read_into(memoryview(frame), deadline, sel)
            hlen, blen = _FRAME.unpack(frame)
            if hlen > _worker.MAX_HEADER or blen > max_body:
                self.kill()
                raise _WorkerDied(f"renderer worker (pid {self.pid}) broke the protocol")
            head = bytearray(hlen)
            self._read_into(memoryview(head), deadline, sel)
            body = bytearray(blen)
            self._read_into(memoryview(body), deadline, sel)
        return json.loads(head), body

    def request(self, header: dict, svg: bytes, deadline: float, max_body: int) -> tuple[dict, bytearray]:
        head = json.dumps(header).encode()
        self._send(_FRAME.pack(len(head), len(svg)) + head + svg, deadline)
        reply = self._recv(deadline, max_body)
        self.renders += 1
        return reply

    def kill(self) -> None:
        """End the process now (it may be mid-render) and remove its temp dir."""
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        self._cleanup()

    def stop(self, grace_s: float = 1.0) -> None:
        """Close stdin so the worker exits on its own; kill it if it does not."""
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


class _Slot:
    """A place in the pool; holds a live worker or None until one is needed."""

    def __init__(self) -> None:
        self.worker: _Worker | None = None


def _stop_slots(slots: list[_Slot]) -> None:
    for slot in slots:
        if slot.worker is not None:
            slot.worker.stop()
            slot.worker = None


class LocalRenderer:
    """A pool of sandboxed render workers on this machine (implements ``Renderer``).

    ``size`` workers (default: one per CPU) each serve many renders; requests beyond that
    wait in a queue. Workers start on first use, are replaced when they crash or time out,
    and are recycled after ``max_renders`` renders.
    """

    name = "local"

    def __init__(
        self,
        size: int | None = None,
        *,
        limits: SandboxLimits | None = None,
        max_svg_bytes: int = 8 * 1024 * 1024,
        max_renders: int = 1000,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.size = max(1, size or os.cpu_count() or 1)
        self.limits = limits or SandboxLimits()
        self.max_svg_bytes = max_svg_bytes
        self.max_renders = max_renders
        self.start_timeout_s = start_timeout_s
        self._slots = [_Slot() for _ in range(self.size)]
        self._idle: queue.Queue[_Slot] = queue.Queue()
        for slot in self._slots:
            self._idle.put(slot)
        self._executor = ThreadPoolExecutor(self.size, thread_name_prefix="svgarena-render")
        self._lock = threading.Lock()
        self._closed = False
        # Workers also exit when this process dies (their stdin closes); this stops them on GC/exit.
        self._finalizer = weakref.finalize(self, _stop_slots, self._slots)

    # --- the Renderer protocol -------------------------------------------------------------

    async def render(self, svg: str, spec: RenderSpec | None = None) -> RenderResult:
        """Render one SVG in a worker; never raises for bad input and never waits unbounded."""
        spec = spec or RenderSpec()
        refused = self._refuse(svg, spec)
        if refused is not None:
            return refused
        loop = asyncio.get_running_loop()
        try:
            future = self._executor.submit(self._render_blocking, svg, spec)
        except RuntimeError:  # closed between the check and the submit
            return self._failure(Outcome.RENDER_ERROR, "the renderer is closed", spec, 0.0)
        try:
            return await asyncio.wrap_future(future, loop=loop)
        except asyncio.CancelledError:
            if future.cancelled() and self._closed:  # dropped from the queue by close()
                return self._failure(Outcome.RENDER_ERROR, "the renderer was closed before this render ran", spec, 0.0)
            raise

    async def close(self) -> None:
        """Stop every worker (in-flight renders finish or time out first)."""
        await asyncio.to_thread(self.shutdown)

    # --- sync conveniences -----------------------------------------------------------------

    def render_svg(self, svg: str, spec: RenderSpec | None = None) -> RenderResult:
        """Blocking form of ``render`` for scripts and the CLI."""
        spec = spec or RenderSpec()
        refused = self._refuse(svg, spec)
        if refused is not None:
            return refused
        try:
            return self._executor.submit(self._render_blocking, svg, spec).result()
        except (RuntimeError, CancelledError):
            return self._failure(Outcome.RENDER_ERROR, "the renderer is closed", spec, 0.0)

    def shutdown(self) -> None:
        """Blocking form of ``close``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._finalizer()

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for monitoring and tests)."""
        return [s.worker.pid for s in self._slots if s.worker is not None and s.worker.alive]

    def __enter__(self) -> LocalRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    async def __aenter__(self) -> LocalRenderer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- internals -------------------------------------------------------------------------

    def _failure(self, outcome: Outcome, reason: str, spec: RenderSpec, seconds: float) -> RenderResult:
        return RenderResult(outcome, None, reason, seconds, spec.renderer)

    def _refuse(self, svg: str, spec: RenderSpec) -> RenderResult | None:
        """Checks done before anything is sent to a worker."""
        if self._closed:
            return self._failure(Outcome.RENDER_ERROR, "the renderer is closed", spec, 0.0)
        if not isinstance(svg, str):
            return self._failure(Outcome.RENDER_ERROR, f"expected SVG text, got {type(svg).__name__}", spec, 0.0)
        if len(svg) > self.max_svg_bytes or len(svg.encode("utf-8", "surrogatepass")) > self.max_svg_bytes:
            return self._failure(
                Outcome.RENDER_ERROR,
                f"SVG is {len(svg.encode('utf-8', 'surrogatepass'))} bytes, over the {self.max_svg_bytes}-byte limit",
                spec, 0.0,
            )
        if spec.width < 1 or spec.height < 1 or spec.width * spec.height > MAX_PIXELS:
            return self._failure(Outcome.RENDER_ERROR, f"bad output size {spec.width}x{spec.height}", spec, 0.0)
        return None

    def _render_blocking(self, svg: str, spec: RenderSpec) -> RenderResult:
        start = time.perf_counter()
        slot = self._idle.get()
        try:
            return self._render_in(slot, svg, spec, start)
        finally:
            self._idle.put(slot)

    def _render_in(self, slot: _Slot, svg: str, spec: RenderSpec, start: float) -> RenderResult:
        worker = slot.worker
        if worker is not None and (not worker.alive or worker.renders >= self.max_renders):
            worker.stop()
            slot.worker = worker = None
        if worker is None:
            try:
                worker = slot.worker = _Worker(self.limits, self.start_timeout_s)
            except (RuntimeError, OSError) as exc:
                return self._failure(Outcome.RENDER_ERROR, str(exc), spec, time.perf_counter() - start)
        header = {
            "width": spec.width, "height": spec.height, "background": spec.background,
            "renderer": spec.renderer,
            "cpu_s": self.limits.cpu_s_per_render or int(math.ceil(spec.timeout_s)) + 2,
        }
        sent = time.perf_counter()
        try:
            head, body = worker.request(
                header, svg.encode("utf-8", "surrogatepass"), time.monotonic() + spec.timeout_s,
                max_body=spec.width * spec.height * 3,
            )
        except _Deadline:
            worker.kill()
            slot.worker = None
            return self._failure(
                Outcome.RENDER_TIMEOUT,
                f"render took longer than {spec.timeout_s:g} s; the worker was killed",
                spec, time.perf_counter() - start,
            )
        except _WorkerDied as exc:
            worker.kill()
            slot.worker = None
            return self._failure(Outcome.RENDER_ERROR, f"{exc} while rendering", spec, time.perf_counter() - start)
        if head.get("exit"):
            worker.stop()
            slot.worker = None
        meta = {"worker_pid": worker.pid, "worker_seconds": head.get("seconds"),
                "ipc_seconds": time.perf_counter() - sent - float(head.get("seconds") or 0.0)}
        outcome = Outcome(head.get("outcome", "render_error"))
        if outcome is not Outcome.OK:
            return RenderResult(outcome, None, head.get("reason", ""), time.perf_counter() - start,
                                spec.renderer, meta)
        h, w = int(head["height"]), int(head["width"])
        if len(body) != h * w * 3:
            return self._failure(Outcome.RENDER_ERROR, "the worker returned a truncated image", spec,
                                 time.perf_counter() - start)
        image = np.frombuffer(body, dtype=np.uint8).reshape(h, w, 3)
        return RenderResult(Outcome.OK, image, "", time.perf_counter() - start, spec.renderer, meta)


_default: LocalRenderer | None = None
_default_lock = threading.Lock()


def render_svg(svg: str, spec: RenderSpec | None = None) -> RenderResult:
    """Render one SVG with a shared, lazily started pool (for scripts and the CLI)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = LocalRenderer()
    return _default.render_svg(svg, spec)
