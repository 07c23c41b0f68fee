"""The Ray executor: static and animated renders in Ray actors on a cluster.

Each render actor holds one long-lived backend object of this package (a ``LocalRenderer`` of
one jailed worker, or a ``DockerRenderer`` of one container), so a render on a cluster node has
exactly the isolation and limits it has on this machine; each animation actor holds one
``BrowserAnimationRenderer`` (jailed Chromium). There is one actor per CPU of each node, pinned to
its node. The driver (the run's asyncio loop) hands each render to an idle actor and awaits the
Ray future, so results stream back as they finish; images come back as numpy arrays and videos
as bytes, never through a shared disk.

An actor that dies mid-render (SIGKILL, the OOM killer, its node leaving) is replaced and the
render retried once on the replacement; a second death is a typed ``render_error``. When no node
is left to place an actor on, or Ray itself is gone, ``ClusterLost`` stops the run (the store
stays resumable). Ray is imported only here, and only when the executor is used.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svgarena.outcome import Outcome
from svgarena.sandboxes._types import RenderResult, RenderSpec

log = logging.getLogger("svgarena.sandboxes")

EXECUTORS = ("local", "ray")
_NODE_TIMEOUT_S = 30.0  # how long a look at the cluster's nodes may take before it counts as lost


class ClusterLost(RuntimeError):
    """The Ray cluster is gone (or has no node left): the run stops, its store stays resumable."""


class ActorFailed(RuntimeError):
    """An actor died on the same item twice (the first time it was replaced and retried)."""


def import_ray() -> Any:
    """``ray``, or one clear sentence on how to get it."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("--executor ray needs Ray: pip install 'svgarena[ray]'") from None
    return ray


def connect(address: str | None = None) -> Any:
    """Connect this process to a Ray cluster (``address``, else $RAY_ADDRESS, else ``auto``).

    Returns the ``ray`` module. Raises ``ClusterLost`` with one sentence when none answers.
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    target = address or os.environ.get("RAY_ADDRESS") or "auto"
    problem = _unreachable(target)
    if problem:  # ray.init would retry for minutes
        raise ClusterLost(f"cannot reach the Ray cluster at {target} ({problem}); start one with `ray start --head` "
                          f"or pass --ray-address")
    try:
        ray.init(address=target, log_to_driver=False, logging_level=logging.WARNING,
                 runtime_env=_runtime_env())
    except Exception as exc:  # noqa: BLE001 - ConnectionError, ValueError, RaySystemError...
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterLost(f"cannot reach the Ray cluster at {target} ({msg}); start one with `ray start --head` "
                          f"or pass --ray-address") from None
    global _HEAD
    try:
        _HEAD = ray._private.worker.global_worker.node.gcs_address
    except Exception:  # noqa: BLE001 - Ray Client (ray://host:port) has no local node: its server is the head
        _HEAD = target[len("ray://"):] if target.startswith("ray://") else None
    return ray


_HEAD: str | None = None


def connected_head() -> str | None:
    """``host:port`` of the head this process connected to (its GCS, or the Ray Client server), else None."""
    return _HEAD


def head_unreachable(address: str, timeout_s: float = 5.0) -> str | None:
    """Why the head at ``host:port`` does not answer a TCP connect, or None when it does (or cannot be told)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return None
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        return f"{address}: {exc.strerror or type(exc).__name__}"
    return None


def _unreachable(target: str, timeout_s: float = 5.0) -> str | None:
    """Why ``target`` (auto, host:port, ray://host:port) does not answer a TCP connect, or None."""
    address = target
    if target.startswith("ray://"):
        address = target[len("ray://"):]
    elif target == "auto":
        try:
            from ray._private.services import canonicalize_bootstrap_address

            address = canonicalize_bootstrap_address(target)
        except Exception:  # noqa: BLE001 - no cluster recorded on this machine: ray.init says so
            return None
        if not address:
            return None
    return head_unreachable(address, timeout_s)  # not host:port: None, and ray.init judges it


def _runtime_env() -> dict[str, Any] | None:
    """Carry this process's PYTHONPATH to the actors (a source checkout on every node, as here)."""
    path = os.environ.get("PYTHONPATH")
    return {"env_vars": {"PYTHONPATH": path}} if path else None


def alive_nodes(ray: Any) -> list[dict[str, Any]]:
    """The cluster's live nodes that have CPUs."""
    return [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]


def _node_cpus(ray: Any) -> list[tuple[str, int]]:
    return [(n["NodeID"], max(1, int(n["Resources"]["CPU"]))) for n in alive_nodes(ray)]


def _died_errors(ray: Any) -> tuple[type[BaseException], ...]:
    ex = ray.exceptions
    return tuple(c for c in (getattr(ex, "RayActorError", None), getattr(ex, "ActorUnavailableError", None),
                             getattr(ex, "ActorDiedError", None), getattr(ex, "WorkerCrashedError", None),
                             getattr(ex, "NodeDiedError", None), getattr(ex, "ObjectLostError", None))
                 if c is not None)


def _lost_errors(ray: Any) -> tuple[type[BaseException], ...]:
    ex = ray.exceptions
    return tuple(c for c in (getattr(ex, "RaySystemError", None), getattr(ex, "GetTimeoutError", None),
                             ConnectionError) if c is not None)


class _HeadWatch:
    """Probes the cluster head's GCS port from a daemon thread; names the loss once it stops answering.

    Ray ends a driver whose GCS has been unreachable for a while (``gcs_rpc_server_reconnect_timeout_s``)
    without a Python exception, so the executor watches for it itself and stops the run first.
    """

    def __init__(self, address: str, interval_s: float = 1.0, misses: int = 3) -> None:
        self.address = address
        self.lost: str | None = None
        self._interval_s = interval_s
        self._misses = misses
        self._stop = threading.Event()
        threading.Thread(target=self._loop, name="svgarena-ray-watch", daemon=True).start()

    def _loop(self) -> None:
        host, _, port = self.address.rpartition(":")
        missed = 0
        while not self._stop.wait(self._interval_s):
            try:
                socket.create_connection((host, int(port)), timeout=2.0).close()
                missed = 0
            except OSError:
                missed += 1
                if missed >= self._misses:
                    self.lost = f"lost the Ray cluster: its head at {self.address} stopped answering"
                    return

    def stop(self) -> None:
        self._stop.set()


_WATCH: _HeadWatch | None = None


def head_watch(ray: Any) -> _HeadWatch | None:
    """The process's watch on the head it is connected to (None in Ray Client mode)."""
    global _WATCH
    try:
        address = ray._private.worker.global_worker.node.gcs_address
    except Exception:  # noqa: BLE001 - Ray Client (ray://) has no local node
        return None
    if _WATCH is None or _WATCH.address != address or _WATCH.lost:
        if _WATCH is not None:
            _WATCH.stop()
        _WATCH = _HeadWatch(address)
    return _WATCH


# --- the actors (plain classes; ray.remote wraps them when a pool starts) ---------------------------

class RenderActor:
    """Holds one backend pool of size 1 (one jailed worker or one container) on its node."""

    def __init__(self, backend: str, kwargs: dict[str, Any]) -> None:
        from svgarena.sandboxes._backends import open_backend

        self.pool = open_backend(backend, 1, **kwargs)

    def render(self, svg: str, spec: RenderSpec) -> RenderResult:
        result = self.pool.render_svg(svg, spec)
        result.meta = {**result.meta, "actor_pid": os.getpid()}
        return result

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "workers": self.pool.worker_pids(), "versions": dict(self.pool.renderer_versions)}

    def close(self) -> None:
        self.pool.shutdown()


class AnimationActor:
    """Holds one ``BrowserAnimationRenderer`` (jailed Chromium) in the actor's own event loop."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        from svgarena.sandboxes._browser import BrowserAnimationRenderer

        self.renderer = BrowserAnimationRenderer(**kwargs)

    async def capture(self, svg: str, times: list[float], size: Any, timeout_s: float | None) -> RenderResult:
        result = await self.renderer.capture(svg, times, size, timeout_s=timeout_s)
        result.meta = {**result.meta, "actor_pid": os.getpid()}
        return result

    async def render_mp4(self, svg: str, want_128: bool, times: list[float] | None,
                         timeout_s: float | None) -> tuple[RenderResult, bytes | None, bytes | None]:
        """The two videos, made in a folder of this actor's node and returned as bytes."""
        with tempfile.TemporaryDirectory(prefix="svgarena-ray-video-") as tmp:
            out448, out128 = Path(tmp) / "448.mp4", Path(tmp) / "128.mp4"
            result = await self.renderer.render_mp4(svg, out448, out128 if want_128 else None, times=times,
                                                    timeout_s=timeout_s)
            data448 = out448.read_bytes() if result.ok else None
            data128 = out128.read_bytes() if result.ok and want_128 else None
        result.meta = {**result.meta, "actor_pid": os.getpid()}
        return result, data448, data128

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid()}

    async def close(self) -> None:
        await self.renderer.close()


# --- the driver side -------------------------------------------------------------------------------

class _Slot:
    def __init__(self, node_id: str, handle: Any) -> None:
        self.node_id = node_id
        self.handle = handle


@dataclass
class Pending:
    """A call ``ActorPool.submit`` started: the actor, what it runs, and its Ray future."""

    slot: _Slot
    method: str
    args: tuple
    ref: Any


class ActorPool:
    """Actors of one kind, one per CPU of each live node, each serving one call at a time.

    ``call`` takes an idle actor, runs ``method`` on it and awaits the Ray future in the caller's
    event loop. An actor that dies is replaced (on its node while that node lives, else anywhere)
    and the call retried once; a second death raises ``ActorFailed``; no node left, or Ray
    unreachable, raises ``ClusterLost``.
    """

    def __init__(self, ray: Any, cls: type, args: tuple, *, kind: str, size: int | None = None,
                 options: dict[str, Any] | None = None, pin: bool = True) -> None:
        self.ray = ray
        self.pin = pin
        self.kind = kind
        self._remote = ray.remote(cls)
        self._args = args
        self._options = {"num_cpus": 0, "max_restarts": 0, "max_task_retries": 0, **(options or {})}
        self._died = _died_errors(ray)
        self._lost = _lost_errors(ray)
        self.watch = head_watch(ray)
        nodes = _node_cpus(ray)
        if not nodes:
            raise ClusterLost("lost the Ray cluster: it has no live node with CPUs")
        places = [node for node, cpus in nodes for _ in range(cpus)]
        if size is not None:  # an explicit total, spread over the nodes in turn
            by_node = [node for node, _ in nodes]
            places = [by_node[i % len(by_node)] for i in range(max(1, size))]
        self.slots = [_Slot(node, self._start(node)) for node in places]
        self._idle: asyncio.Queue[_Slot] | None = None
        self.replaced = 0
        self._closed = False

    @property
    def size(self) -> int:
        return len(self.slots)

    def _start(self, node_id: str | None) -> Any:
        opts = dict(self._options)
        if node_id is not None and self.pin:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id, soft=True)
        return self._remote.options(**opts).remote(*self._args)

    def _queue(self) -> asyncio.Queue[_Slot]:
        if self._idle is None:
            self._idle = asyncio.Queue()
            for slot in self.slots:
                self._idle.put_nowait(slot)
        return self._idle

    def _replace_blocking(self, slot: _Slot) -> None:
        """A fresh actor in ``slot``'s place; ``ClusterLost`` when no node is left for it."""
        self._check()
        try:
            self.ray.kill(slot.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - it is dead already
            pass
        try:
            nodes = _node_cpus(self.ray)
        except Exception as exc:  # noqa: BLE001 - the GCS is gone
            raise ClusterLost(f"lost the Ray cluster while replacing a {self.kind} actor ({type(exc).__name__})") from None
        if not nodes:
            raise ClusterLost(f"lost the Ray cluster: no live node is left to run {self.kind} actors")
        live = {n for n, _ in nodes}
        if slot.node_id not in live:
            slot.node_id = nodes[self.replaced % len(nodes)][0]
        slot.handle = self._start(slot.node_id)
        self.replaced += 1
        log.warning("a %s actor died; replaced it on node %s", self.kind, slot.node_id[:8])

    async def _replace(self, slot: _Slot) -> None:
        job = asyncio.ensure_future(asyncio.to_thread(self._replace_blocking, slot))
        deadline = time.monotonic() + _NODE_TIMEOUT_S
        while not job.done():
            await asyncio.wait({job}, timeout=0.5)
            self._check()
            if time.monotonic() > deadline and not job.done():
                raise ClusterLost(f"lost the Ray cluster: it did not answer in {_NODE_TIMEOUT_S:g} s while a "
                                  f"{self.kind} actor was replaced")
        job.result()

    async def call(self, method: str, *args: Any) -> Any:
        self._check()
        if self._closed:
            raise ActorFailed(f"the {self.kind} actors are closed")
        idle = self._queue()
        slot = await idle.get()
        try:
            last: BaseException | None = None
            for _ in range(2):
                try:
                    return await self._await(getattr(slot.handle, method).remote(*args))
                except self._died as exc:
                    last = exc
                    await self._replace(slot)
                except self._lost as exc:
                    raise ClusterLost(f"lost the Ray cluster during a {self.kind} call ({type(exc).__name__})") from None
            reason = str(last).strip().splitlines()[0] if last is not None and str(last).strip() else "actor died"
            raise ActorFailed(f"the {self.kind} actor died twice on this item (replaced each time): {reason}")
        finally:
            idle.put_nowait(slot)

    def _check(self) -> None:
        if self.watch is not None and self.watch.lost:
            raise ClusterLost(self.watch.lost)

    async def _await(self, ref: Any) -> Any:
        """The result of ``ref``, or ``ClusterLost`` as soon as the head stops answering."""
        future = asyncio.wrap_future(ref.future())
        while True:
            done, _ = await asyncio.wait({future}, timeout=1.0)
            if done:
                return future.result()
            if self.watch is not None and self.watch.lost:
                future.cancel()
                raise ClusterLost(self.watch.lost)

    def call_blocking(self, method: str, *args: Any, timeout_s: float | None = None) -> Any:
        """``call`` for synchronous code (the scoring pass), round robin over the actors."""
        return self.collect(self.submit(method, *args), timeout_s=timeout_s)

    def submit(self, method: str, *args: Any) -> Pending:
        """Start ``method`` on the next actor (round robin) and return at once; ``collect`` waits.

        The scoring pass keeps one batch in flight per actor this way, so N actors (N GPUs)
        work at once while the driver reads the next batches.
        """
        self._check()
        self._turn = getattr(self, "_turn", -1) + 1
        slot = self.slots[self._turn % len(self.slots)]
        try:
            ref = getattr(slot.handle, method).remote(*args)
        except self._lost as exc:
            raise ClusterLost(f"lost the Ray cluster during a {self.kind} call ({type(exc).__name__})") from None
        return Pending(slot, method, args, ref)

    def collect(self, pending: Pending, timeout_s: float | None = None) -> Any:
        """The result of a ``submit``: an actor that died is replaced and the call retried once on it."""
        last: BaseException | None = None
        ref = pending.ref
        for attempt in range(2):
            try:
                if ref is None:
                    ref = getattr(pending.slot.handle, pending.method).remote(*pending.args)
                return self._get_blocking(ref, timeout_s)
            except self._died as exc:
                last, ref = exc, None
                self._replace_blocking(pending.slot)
            except self._lost as exc:
                raise ClusterLost(f"lost the Ray cluster during a {self.kind} call ({type(exc).__name__})") from None
        reason = str(last).strip().splitlines()[0] if last is not None and str(last).strip() else "actor died"
        raise ActorFailed(f"the {self.kind} actor died twice on this item (replaced each time): {reason}")

    def _get_blocking(self, ref: Any, timeout_s: float | None) -> Any:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            self._check()
            ready, _ = self.ray.wait([ref], timeout=1.0)
            if ready:
                return self.ray.get(ref)
            if deadline is not None and time.monotonic() > deadline:
                raise self.ray.exceptions.GetTimeoutError(f"no answer from a {self.kind} actor in {timeout_s:g} s")

    def info(self) -> list[dict[str, Any]]:
        """Each live actor's ``info()`` (pids, for monitoring and tests)."""
        return self.ray.get([s.handle.info.remote() for s in self.slots], timeout=60)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.watch is not None and self.watch.lost:
            return  # nothing to stop: the actors went with the cluster
        refs = []
        for slot in self.slots:
            try:
                refs.append(slot.handle.close.remote())
            except Exception:  # noqa: BLE001
                pass
        try:
            self.ray.wait(refs, num_returns=len(refs), timeout=15)
        except Exception:  # noqa: BLE001 - the cluster may be gone
            pass
        for slot in self.slots:
            try:
                self.ray.kill(slot.handle, no_restart=True)
            except Exception:  # noqa: BLE001
                pass


class RayRenderer:
    """The ``Renderer`` of the Ray executor: static renders in render actors on the cluster.

    ``backend`` names what each actor holds (``local``: a jailed worker, ``docker``: a
    container); ``size`` caps the number of actors (default: one per CPU of each node).
    """

    name = "ray"

    def __init__(self, backend: str = "local", size: int | None = None, *, address: str | None = None,
                 run: str = "", **kwargs: Any) -> None:
        ray = connect(address)
        backend_kwargs = dict(kwargs)
        if backend == "docker":
            backend_kwargs["run"] = run
        self.backend = backend
        self.pool = ActorPool(ray, RenderActor, (backend, backend_kwargs), kind="render", size=size)
        self.size = self.pool.size
        self.renderer_versions: dict[str, str | None] = {}

    async def render(self, svg: str, spec: RenderSpec | None = None) -> RenderResult:
        spec = spec or RenderSpec()
        start = time.perf_counter()
        try:
            result = await self.pool.call("render", svg, spec)
        except ActorFailed as exc:
            return RenderResult(Outcome.RENDER_ERROR, None, str(exc), time.perf_counter() - start, spec.renderer,
                                {"backend": "ray"})
        result.meta = {**result.meta, "executor": "ray"}
        if result.meta.get("renderer_version"):
            self.renderer_versions[spec.renderer] = result.meta["renderer_version"]
        return result

    def render_svg(self, svg: str, spec: RenderSpec | None = None) -> RenderResult:
        """Blocking form of ``render`` for scripts (not from inside a running event loop)."""
        return asyncio.run(self.render(svg, spec))

    def actor_info(self) -> list[dict[str, Any]]:
        return self.pool.info()

    async def close(self) -> None:
        await asyncio.to_thread(self.pool.shutdown)

    def shutdown(self) -> None:
        self.pool.shutdown()


class RayAnimation:
    """The animation capturer of the Ray executor: ``BrowserAnimationRenderer`` calls in actors.

    Offers what solvers use (``capture``, ``render_mp4``, ``capture_metric_frames``, ``render``);
    videos are made on the actor's node and written here from the bytes it returns.
    """

    name = "chromium"

    def __init__(self, size: int | None = None, *, address: str | None = None, **kwargs: Any) -> None:
        ray = connect(address)
        self.pool = ActorPool(ray, AnimationActor, ({"pages": 1, **kwargs},), kind="animation", size=size)

    def _failed(self, exc: ActorFailed, start: float) -> RenderResult:
        return RenderResult(Outcome.RENDER_ERROR, None, str(exc), time.perf_counter() - start, self.name,
                            {"executor": "ray"})

    async def capture(self, svg: str, times: Sequence[float], size: Any = 448,
                      timeout_s: float | None = None) -> RenderResult:
        start = time.perf_counter()
        try:
            return await self.pool.call("capture", svg, [float(t) for t in times], size, timeout_s)
        except ActorFailed as exc:
            return self._failed(exc, start)

    async def render(self, svg: str, spec: RenderSpec | None = None) -> RenderResult:
        spec = spec or RenderSpec(renderer=self.name)
        return await self.capture(svg, [0.0], (spec.width, spec.height), timeout_s=spec.timeout_s)

    async def capture_metric_frames(self, svg: str, n448: int = 8, n128: int = 16,
                                    timeout_s: float | None = None) -> RenderResult:
        from svgarena.sandboxes._browser import metric_frames

        return await metric_frames(self.capture, svg, n448, n128, timeout_s)

    async def render_mp4(self, svg: str, out448: str | os.PathLike[str], out128: str | os.PathLike[str] | None = None,
                         times: Sequence[float] | None = None, fps: int = 30,
                         timeout_s: float | None = None) -> RenderResult:
        start = time.perf_counter()
        if fps != 30:
            raise ValueError("the Ray executor renders SArena's 30 fps videos only")
        try:
            result, data448, data128 = await self.pool.call(
                "render_mp4", svg, out128 is not None, list(times) if times is not None else None, timeout_s)
        except ActorFailed as exc:
            return self._failed(exc, start)
        if result.ok and data448 is not None:
            Path(out448).write_bytes(data448)
            result.meta["mp4"] = str(out448)
            if out128 is not None and data128 is not None:
                Path(out128).write_bytes(data128)
                result.meta["mp4_128"] = str(out128)
        return result

    def actor_info(self) -> list[dict[str, Any]]:
        return self.pool.info()

    async def close(self) -> None:
        await asyncio.to_thread(self.pool.shutdown)


def open_executor_backend(executor: str, backend: str, size: int | None, *, run: str = "",
                          address: str | None = None, **kwargs: Any) -> Any:
    """The static renderer of ``executor``: the local backend pool, or a ``RayRenderer``."""
    if executor == "ray":
        return RayRenderer(backend, size, address=address, run=run, **kwargs)
    if executor != "local":
        raise ValueError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    from svgarena.sandboxes._backends import open_backend

    return open_backend(backend, size, run=run, **kwargs)


def lazy_animation_factory(executor: str, address: str | None = None) -> Callable[[], Any]:
    """What the runner's lazy animation holder starts on first use for ``executor``."""
    if executor == "ray":
        return lambda: RayAnimation(address=address)
    from svgarena.sandboxes._browser import BrowserAnimationRenderer

    return BrowserAnimationRenderer
