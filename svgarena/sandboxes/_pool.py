"""A pool of long-lived render workers, whatever runs them (a jailed process, a container).

Each worker speaks ``_worker.py``'s framed protocol over one byte stream in and one out. The
pool hands each render to an idle worker, bounds every read and write by the render's
wall-clock deadline, kills and forgets a worker that times out or dies (the next render starts
a fresh one), and turns every failure into a typed ``RenderResult``. It is driven by plain
threads and blocking I/O with deadlines, so one object serves asyncio code (``await render``),
scripts (``render_svg``) and several event loops.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import queue
import selectors
import signal
import threading
import time
import weakref
import zlib
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from svgarena.outcome import Outcome
from svgarena.sandboxes import _worker
from svgarena.sandboxes._types import RenderResult, RenderSpec

_FRAME = _worker._FRAME
MAX_PIXELS = 8192 * 8192
RENDERERS = ("cairosvg", "resvg")


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of each worker: rlimits it applies to itself before it reads any SVG
    (every backend), plus what a container backend enforces from outside."""

    memory_bytes: int = 2 << 30  # RLIMIT_AS; a container gets this plus 256 MiB as its memory limit
    cpu_s_per_render: int | None = None  # RLIMIT_CPU soft budget per render; None: timeout + 2 s
    cpu_s_lifetime: int = 6 * 3600  # RLIMIT_CPU hard limit over the worker's life
    file_size_bytes: int = 0  # RLIMIT_FSIZE: a renderer writes no files
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int | None = 0  # RLIMIT_NPROC: no forks (root is exempt); None leaves it alone
    pids: int = 16  # a container's pids limit
    cpus: float = 1.0  # a container's CPU quota (cores)

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


class WorkerDied(Exception):
    """The worker ended or broke the protocol."""


class Deadline(Exception):
    """The wall-clock limit passed before the worker answered."""


def describe_exit(code: int | None, signal_no: int | None) -> str:
    if code is None and signal_no is None:
        return "still running"
    if signal_no is not None:
        try:
            return f"killed by {signal.Signals(signal_no).name}"
        except ValueError:
            return f"killed by signal {signal_no}"
    return f"exited with status {code}"


class Worker:
    """One worker: framed requests over a byte stream, every wait bounded by a deadline.

    Subclasses provide the stream (``_in_fd``/``_out_fd`` or their own chunk I/O), liveness,
    ``kill``/``stop`` and ``exit_reason``.
    """

    label = "renderer worker"
    renders = 0
    info: dict = {}

    # --- stream I/O (pipes or sockets; overridden by streams that need framing of their own)

    _in_fd: int
    _out_fd: int

    def _write_chunk(self, view: memoryview, sel: selectors.BaseSelector, deadline: float) -> int:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Deadline()
        if not sel.select(left):
            return 0
        try:
            return os.write(self._in_fd, view)
        except BlockingIOError:
            return 0
        except OSError:
            raise self.died() from None

    def _read_chunk(self, buf: memoryview, sel: selectors.BaseSelector, deadline: float) -> int:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Deadline()
        if not sel.select(left):
            return 0
        try:
            n = os.readv(self._out_fd, [buf])
        except BlockingIOError:
            return 0
        except OSError:
            raise self.died() from None
        if n == 0:
            raise self.died()
        return n

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        with selectors.DefaultSelector() as sel:
            sel.register(self._in_fd, selectors.EVENT_WRITE)
            while view:
                view = view[self._write_chunk(view, sel, deadline):]

    def _read_exact(self, n: int, deadline: float, sel: selectors.BaseSelector) -> bytearray:
        out = bytearray(n)
        buf = memoryview(out)
        while buf:
            buf = buf[self._read_chunk(buf, sel, deadline):]
        return out

    def recv(self, deadline: float, max_body: int) -> tuple[dict, bytearray]:
        with selectors.DefaultSelector() as sel:
            sel.register(self._out_fd, selectors.EVENT_READ)
            hlen, blen = _FRAME.unpack(self._read_exact(_FRAME.size, deadline, sel))
            if hlen > _worker.MAX_HEADER or blen > max_body:
                self.kill()
                raise WorkerDied(f"{self.label} broke the protocol")
            head = self._read_exact(hlen, deadline, sel)
            body = self._read_exact(blen, deadline, sel)
        try:
            return json.loads(head), body
        except ValueError:
            self.kill()
            raise WorkerDied(f"{self.label} broke the protocol") from None

    def handshake(self, timeout_s: float) -> None:
        """Wait for the worker's ready frame; raise RuntimeError (after killing it) if none."""
        try:
            head, _ = self.recv(time.monotonic() + timeout_s, max_body=0)
        except (WorkerDied, Deadline) as exc:
            self.kill()
            raise RuntimeError(f"the {self.label} did not start ({exc or 'no answer in time'})") from None
        if not head.get("ready"):
            self.kill()
            raise RuntimeError(f"the {self.label} could not start: {head.get('reason', 'no reason given')}")
        self.info = head

    def request(self, header: dict, svg: bytes, deadline: float, max_body: int) -> tuple[dict, bytearray]:
        head = json.dumps(header).encode()
        self._send(_FRAME.pack(len(head), len(svg)) + head + svg, deadline)
        reply = self.recv(deadline, max_body)
        self.renders += 1
        return reply

    # --- lifecycle, per kind of worker

    @property
    def alive(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def exit_reason(self) -> str:  # pragma: no cover - abstract
        """How the worker ended (waits briefly for it), e.g. ``killed by SIGSEGV``."""
        raise NotImplementedError

    def died(self) -> WorkerDied:
        return WorkerDied(f"{self.label} {self.exit_reason()}")

    def kill(self) -> None:  # pragma: no cover - abstract
        """End the worker now (it may be mid-render) and free what it held."""
        raise NotImplementedError

    def stop(self, grace_s: float = 1.0) -> None:  # pragma: no cover - abstract
        """Close its input so it exits on its own; kill it if it does not."""
        raise NotImplementedError


class _Slot:
    """A place in the pool; holds a live worker or None until one is needed."""

    def __init__(self) -> None:
        self.worker: Worker | None = None


def _stop_slots(slots: list[_Slot]) -> None:
    for slot in slots:
        if slot.worker is not None:
            try:
                slot.worker.stop()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
            slot.worker = None


class WorkerPool:
    """A pool of sandboxed render workers (implements ``Renderer``); subclasses say how a
    worker is started (``_spawn``).

    ``size`` workers (default: one per CPU) each serve many renders; requests beyond that wait
    in a queue. Workers start on first use, are replaced when they crash or time out, and are
    recycled after ``max_renders`` renders. Input over ``max_svg_bytes`` and nesting deeper
    than ``max_depth`` are refused with a clear reason; the output size is always the spec's.
    """

    name = "pool"  # the backend's name
    encoding = "raw"  # how images travel back: raw RGB, or "zlib" where the stream is costly
    renderer_versions: dict[str, str | None]

    def __init__(
        self,
        size: int | None = None,
        *,
        limits: SandboxLimits | None = None,
        max_svg_bytes: int = 8 * 1024 * 1024,
        max_depth: int = _worker.MAX_DEPTH,
        max_renders: int = 1000,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.size = max(1, size or os.cpu_count() or 1)
        self.limits = limits or SandboxLimits()
        self.max_svg_bytes = max_svg_bytes
        self.max_depth = max_depth
        self.max_renders = max_renders
        self.start_timeout_s = start_timeout_s
        self.renderer_versions = {}
        self._slots = [_Slot() for _ in range(self.size)]
        self._idle: queue.Queue[_Slot] = queue.Queue()
        for slot in self._slots:
            self._idle.put(slot)
        self._executor = ThreadPoolExecutor(self.size, thread_name_prefix=f"svgarena-{self.name}")
        self._lock = threading.Lock()
        self._closed = False
        self._counts = {"renders": 0, "crashes": 0, "timeouts": 0, "start_failures": 0}  # see health()
        # Workers also exit when this process dies (their input closes); this stops them on GC/exit.
        self._finalizer = weakref.finalize(self, _stop_slots, self._slots)

    # --- to implement -----------------------------------------------------------------------

    def _spawn(self) -> Worker:  # pragma: no cover - abstract
        """Start one worker and wait for its ready frame (RuntimeError/OSError if it cannot)."""
        raise NotImplementedError

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

    def render_many(self, svgs: list[str], spec: RenderSpec | None = None) -> list[RenderResult]:
        """Render many SVGs on every worker at once (blocking); results in input order."""
        spec = spec or RenderSpec()
        futures = []
        for svg in svgs:
            refused = self._refuse(svg, spec)
            futures.append(refused if refused is not None else self._executor.submit(self._render_blocking, svg, spec))
        return [f if isinstance(f, RenderResult) else f.result() for f in futures]

    def shutdown(self) -> None:
        """Blocking form of ``close``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._finalizer()

    def worker_pids(self) -> list[int]:
        """Host process ids of the live workers' renderer processes (for monitoring and tests)."""
        return [s.worker.pid for s in self._slots if s.worker is not None and s.worker.alive
                and getattr(s.worker, "pid", None)]

    def workers(self) -> list[Worker]:
        """The live workers (for monitoring and tests)."""
        return [s.worker for s in self._slots if s.worker is not None and s.worker.alive]

    def health(self) -> dict[str, int | str]:
        """Pool state for the dashboard: size, workers alive, and renders/crashes/timeouts/start
        failures since the pool opened (a crash or timeout kills the worker; the next render starts one)."""
        with self._lock:
            counts = dict(self._counts)
        return {"backend": self.name, "size": self.size, "alive": len(self.workers()), **counts}

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- internals -------------------------------------------------------------------------

    def _failure(self, outcome: Outcome, reason: str, spec: RenderSpec, seconds: float) -> RenderResult:
        return RenderResult(outcome, None, reason, seconds, spec.renderer, {"backend": self.name})

    def _refuse(self, svg: str, spec: RenderSpec) -> RenderResult | None:
        """Checks done before anything is sent to a worker."""
        if self._closed:
            return self._failure(Outcome.RENDER_ERROR, "the renderer is closed", spec, 0.0)
        if not isinstance(svg, str):
            return self._failure(Outcome.RENDER_ERROR, f"expected SVG text, got {type(svg).__name__}", spec, 0.0)
        if spec.renderer not in RENDERERS:
            return self._failure(Outcome.RENDER_ERROR, f"unknown renderer {spec.renderer!r}; use one of "
                                 f"{', '.join(RENDERERS)}", spec, 0.0)
        if len(svg) > self.max_svg_bytes or len(svg.encode("utf-8", "surrogatepass")) > self.max_svg_bytes:
            return self._failure(
                Outcome.RENDER_ERROR,
                f"SVG is {len(svg.encode('utf-8', 'surrogatepass'))} bytes, over the {self.max_svg_bytes}-byte limit",
                spec, 0.0,
            )
        if not svg.strip():
            return self._failure(Outcome.PARSE_ERROR, "the SVG is empty", spec, 0.0)
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
            if self._closed:
                return self._failure(Outcome.RENDER_ERROR, "the renderer is closed", spec, 0.0)
            try:
                worker = slot.worker = self._spawn()
            except (RuntimeError, OSError) as exc:
                self._count("start_failures")
                return self._failure(Outcome.RENDER_ERROR, str(exc), spec, time.perf_counter() - start)
            self.renderer_versions = dict(worker.info.get("renderers") or {})
        header = {
            "width": spec.width, "height": spec.height, "background": spec.background,
            "renderer": spec.renderer, "max_depth": self.max_depth, "encoding": self.encoding,
            "cpu_s": self.limits.cpu_s_per_render or int(math.ceil(spec.timeout_s)) + 2,
        }
        sent = time.perf_counter()
        try:
            head, body = worker.request(
                header, svg.encode("utf-8", "surrogatepass"), time.monotonic() + spec.timeout_s,
                max_body=spec.width * spec.height * 3 + (spec.width * spec.height * 3) // 100 + 1024,
            )
        except Deadline:
            self._count("timeouts")
            worker.kill()
            slot.worker = None
            return self._failure(
                Outcome.RENDER_TIMEOUT,
                f"render took longer than {spec.timeout_s:g} s; the worker was killed",
                spec, time.perf_counter() - start,
            )
        except WorkerDied as exc:
            self._count("crashes")
            worker.kill()
            slot.worker = None
            return self._failure(Outcome.RENDER_ERROR, f"{exc} while rendering; the worker was replaced", spec,
                                 time.perf_counter() - start)
        self._count("renders")
        if head.get("exit"):
            worker.stop()
            slot.worker = None
        meta = {"backend": self.name, "worker": worker.label, "worker_seconds": head.get("seconds"),
                "ipc_seconds": time.perf_counter() - sent - float(head.get("seconds") or 0.0),
                "renderer_version": (worker.info.get("renderers") or {}).get(spec.renderer)}
        if getattr(worker, "pid", None):
            meta["worker_pid"] = worker.pid
        try:
            outcome = Outcome(head.get("outcome", "render_error"))
        except ValueError:
            outcome = Outcome.RENDER_ERROR
        if outcome is not Outcome.OK:
            return RenderResult(outcome, None, head.get("reason", ""), time.perf_counter() - start,
                                spec.renderer, meta)
        h, w = int(head["height"]), int(head["width"])
        if head.get("encoding") == "zlib":
            inflate = zlib.decompressobj()
            body = inflate.decompress(body, h * w * 3 + 1)  # never more than one image's bytes
        if (w, h) != (spec.width, spec.height) or len(body) != h * w * 3:
            return self._failure(Outcome.RENDER_ERROR, "the worker returned an image of the wrong size", spec,
                                 time.perf_counter() - start)
        image = np.frombuffer(body, dtype=np.uint8).reshape(h, w, 3)
        return RenderResult(Outcome.OK, image, "", time.perf_counter() - start, spec.renderer, meta)
