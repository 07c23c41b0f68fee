"""DockerRenderer: a pool of renderer containers (the Dockerfile's ``renderer`` stage).

Each container runs ``_worker.py`` as its entrypoint and serves many renders over its own stdin
and stdout (the local worker's protocol, carried by Docker's attach stream). Containers start
with network ``none``, a read-only root, a tmpfs ``/tmp``, memory and pids limits, a CPU quota,
all capabilities dropped, ``no-new-privileges`` and user ``nobody``, and carry labels naming the
run and the process that owns them. Containers whose owner died (a killed run) are removed when
the next pool starts and by ``svgarena sandbox cleanup``. No Docker network is ever created.

The image is tagged by a hash of the worker and the Dockerfile, so a pool never talks to a
worker of another protocol version; ``build_image`` (``svgarena sandbox build``) makes it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import re
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from svgarena.sandboxes import _worker
from svgarena.sandboxes._pool import SandboxLimits, Worker, WorkerPool, describe_exit
from svgarena.sandboxes._jail import signal_exit

IMAGE_REPO = "svgarena-renderer"
LABEL_ROLE = "org.svgarena.role"
LABEL_RUN = "org.svgarena.run"
LABEL_OWNER = "org.svgarena.owner"
ROLE = "renderer"
REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
# The renderer's Python packages, pinned to this machine's versions when the image is built.
IMAGE_PACKAGES = ("cairosvg", "cairocffi", "cffi", "pycparser", "tinycss2", "cssselect2", "defusedxml",
                  "webencodings", "pillow", "resvg-py")

__all__ = ["DockerRenderer", "build_image", "cleanup_containers", "docker_problem", "image_tag"]


def image_tag() -> str:
    """``svgarena-renderer:<hash>`` of the worker (and the Dockerfile, where it is present)."""
    h = hashlib.sha256(Path(_worker.__file__).read_bytes())
    if DOCKERFILE.is_file():
        h.update(DOCKERFILE.read_bytes())
    return f"{IMAGE_REPO}:{h.hexdigest()[:12]}"


def client(timeout: int = 60):
    """A docker SDK client for ``$DOCKER_HOST`` (or the default socket) that answered a ping."""
    try:
        import docker
    except ImportError:
        raise RuntimeError("the docker backend needs the docker SDK: pip install docker") from None
    try:
        c = docker.from_env(timeout=timeout)
        c.ping()
    except Exception as exc:  # noqa: BLE001 - DockerException, connection errors
        where = os.environ.get("DOCKER_HOST") or "the default socket"
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuntimeError(f"no Docker engine answers at {where} ({msg}); start one "
                           "(scripts/with_dockerd.sh starts a private one)") from None
    return c


def docker_problem(image: str | None = None) -> str | None:
    """Why the docker backend cannot render here (None when it can): no SDK, no engine, no image."""
    try:
        c = client(timeout=10)
    except RuntimeError as exc:
        return str(exc)
    tag = image or os.environ.get("SVGARENA_DOCKER_IMAGE") or image_tag()
    try:
        c.images.get(tag)
    except Exception:  # noqa: BLE001 - ImageNotFound and API errors
        return f"the renderer image {tag} is missing; build it with `svgarena sandbox build`"
    finally:
        c.close()
    return None


def _owner() -> str:
    """host:pid:start-time of this process, so a reused pid is not taken for the owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname():
        return True  # another machine's engine client: not ours to judge
    try:
        return pid.isdigit() and _start_time(int(pid)) == start and start != "?"
    except Exception:  # noqa: BLE001
        return False


def cleanup_containers(all_: bool = False, c=None) -> list[str]:
    """Remove renderer containers whose owning process is gone (or every one, ``all_``).

    Returns the short ids removed.
    """
    own = c is None
    c = c or client()
    removed = []
    try:
        for ctr in c.containers.list(all=True, filters={"label": f"{LABEL_ROLE}={ROLE}"}):
            owner = ctr.labels.get(LABEL_OWNER, "")
            if all_ or not owner or not _owner_alive(owner):
                try:
                    ctr.remove(force=True)
                    removed.append(ctr.short_id)
                except Exception:  # noqa: BLE001 - already gone
                    pass
    finally:
        if own:
            c.close()
    return removed


class _ContainerWorker(Worker):
    """One renderer container, its attach socket, and Docker's stream framing on its output."""

    def __init__(self, c, image: str, limits: SandboxLimits, labels: dict[str, str], start_timeout_s: float) -> None:
        from docker.types import LogConfig

        self._client = c
        self._dead = False
        self._payload = bytearray()  # demultiplexed stdout bytes not yet consumed
        self._rx = bytearray()  # raw attach-stream bytes not yet parsed
        args = limits.as_worker_args()
        limit = limits.memory_bytes + (256 << 20)
        host_config = c.api.create_host_config(
            network_mode="none", read_only=True,
            tmpfs={"/tmp": "rw,nosuid,nodev,noexec,size=64m"},
            mem_limit=limit, memswap_limit=limit, pids_limit=limits.pids, nano_cpus=int(limits.cpus * 1e9),
            cap_drop=["ALL"], security_opt=["no-new-privileges"], ipc_mode="none",
            log_config=LogConfig(type=LogConfig.types.NONE),
        )
        created = c.api.create_container(
            image, command=[json.dumps(args)], stdin_open=True, tty=False,  # not detached: StdinOnce
            user="65534:65534", labels=labels, working_dir="/tmp", network_disabled=True,
            environment={"HOME": "/tmp", "TMPDIR": "/tmp", "XDG_CACHE_HOME": "/tmp", "LANG": "C.UTF-8",
                         "OMP_NUM_THREADS": "1"},
            host_config=host_config,
        )
        self.container = c.containers.get(created["Id"])
        self.pid = None
        self.label = f"renderer container {self.container.short_id}"
        try:
            sock = c.api.attach_socket(self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 0, "stream": 1})
            self._sock: socket.socket = getattr(sock, "_sock", sock)
            self._sock.setblocking(False)
            self._in_fd = self._out_fd = self._sock.fileno()
            self.container.start()
            self.handshake(start_timeout_s)
            self.container.reload()
            self.pid = int(self.container.attrs["State"].get("Pid") or 0) or None
        except BaseException:
            self.kill()
            raise

    # Docker multiplexes the attach stream: 8-byte headers (stream, 0, 0, 0, size) before each chunk.
    def _read_chunk(self, buf: memoryview, sel: selectors.BaseSelector, deadline: float) -> int:
        while not self._payload:
            while len(self._rx) >= 8:
                size = int.from_bytes(self._rx[4:8], "big")
                if len(self._rx) < 8 + size:
                    break
                if self._rx[0] == 1:  # stdout; stderr frames are dropped
                    self._payload += self._rx[8:8 + size]
                del self._rx[:8 + size]
            if self._payload:
                break
            left = deadline - time.monotonic()
            from svgarena.sandboxes._pool import Deadline

            if left <= 0:
                raise Deadline()
            if not sel.select(left):
                continue
            try:
                data = self._sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except OSError:
                self._dead = True
                raise self.died() from None
            if not data:
                self._dead = True
                raise self.died()
            self._rx += data
        n = min(len(buf), len(self._payload))
        buf[:n] = self._payload[:n]
        del self._payload[:n]
        return n

    @property
    def alive(self) -> bool:
        if self._dead:
            return False
        try:
            peek = self._sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return True
        except OSError:
            self._dead = True
            return False
        if not peek:
            self._dead = True
        return not self._dead

    def exit_reason(self) -> str:
        try:
            code = int(self.container.wait(timeout=3).get("StatusCode"))
            self.container.reload()
            if self.container.attrs.get("State", {}).get("OOMKilled"):
                return "was killed by the out-of-memory killer (container memory limit)"
        except Exception:  # noqa: BLE001 - still running, or gone
            return "stopped answering"
        return describe_exit(code, signal_exit(code, jailed=True))

    def kill(self) -> None:
        self._dead = True
        try:
            self._sock.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def stop(self, grace_s: float = 2.0) -> None:
        try:
            self._sock.shutdown(socket.SHUT_WR)  # the worker sees end of input and exits
            self.container.wait(timeout=grace_s)
        except Exception:  # noqa: BLE001
            pass
        self.kill()


class DockerRenderer(WorkerPool):
    """A pool of renderer containers (implements ``Renderer``); see the module docstring.

    ``image`` defaults to ``$SVGARENA_DOCKER_IMAGE`` or :func:`image_tag`; ``run`` names the run
    in the containers' labels. Raises ``RuntimeError`` (one clear sentence) when there is no
    engine or no image.
    """

    name = "docker"
    encoding = "zlib"  # 600 KB of raw RGB per render through dockerd cost more than zlib level 1

    def __init__(self, size: int | None = None, *, image: str | None = None, run: str = "",
                 **kwargs) -> None:
        self.image = image or os.environ.get("SVGARENA_DOCKER_IMAGE") or image_tag()
        self._client = client()
        try:
            self._client.images.get(self.image)
        except Exception:  # noqa: BLE001
            self._client.close()
            raise RuntimeError(f"the renderer image {self.image} is missing; build it with "
                               "`svgarena sandbox build`") from None
        self.reaped = cleanup_containers(c=self._client)
        self.labels = {LABEL_ROLE: ROLE, LABEL_RUN: run or "-", LABEL_OWNER: _owner()}
        kwargs.setdefault("start_timeout_s", 60.0)
        super().__init__(size, **kwargs)

    def _spawn(self) -> Worker:
        try:
            return _ContainerWorker(self._client, self.image, self.limits, self.labels, self.start_timeout_s)
        except RuntimeError:
            raise
        except Exception as exc:  # noqa: BLE001 - docker.errors.APIError and friends
            raise RuntimeError(f"could not start a renderer container: {str(exc).splitlines()[0]}") from None

    def shutdown(self) -> None:
        super().shutdown()
        try:
            self._client.close()
        except Exception:  # noqa: BLE001
            pass


def _pinned_requirements() -> list[str]:
    out = []
    for name in IMAGE_PACKAGES:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            if name != "resvg-py":
                raise RuntimeError(f"{name} is not installed here; install svgarena's dependencies first") from None
    return out


def download_wheels(dest: Path, log: Callable[[str], None] = print) -> bool:
    """Fetch the renderer's wheels, pinned to this machine's versions, into ``dest`` (for an
    image built where the build itself has no network). False when pip could not get them."""
    dest.mkdir(parents=True, exist_ok=True)
    reqs = _pinned_requirements()
    arch = platform.machine()
    platforms = [f"manylinux_2_{v}_{arch}" for v in (17, 24, 28, 34)] + [f"manylinux2014_{arch}"]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
           "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--abi", "abi3", "--abi", "none",
           "-d", str(dest)]
    for p in platforms:
        cmd += ["--platform", p]
    proc = subprocess.run(cmd + reqs, capture_output=True, text=True)
    if proc.returncode != 0:
        log(f"could not download the renderer's wheels ({proc.stderr.strip().splitlines()[-1:]}); "
            "the image will install from its own package index")
        (dest / "requirements.txt").unlink(missing_ok=True)
        return False
    (dest / "requirements.txt").write_text("\n".join(reqs) + "\n")
    return True


_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")


def follow_build(chunks: Iterable[dict], log: Callable[[str], None],
                 progress: Callable[[int, int, str], None] | None = None) -> str | None:
    """Relay a docker build's decoded output stream; returns its error, if any. Each ``Step N/M``
    line becomes ``progress(N - 1, M, instruction)`` (steps finished, of all), and the end
    ``progress(M, M, ...)`` once the build succeeded."""
    error = None
    last: tuple[int, str] | None = None
    for chunk in chunks:
        text = chunk.get("stream", "")
        if text.strip():
            log(text.rstrip())
            step = _STEP.match(text.strip())
            if step and progress is not None:
                last = (int(step.group(2)), step.group(3)[:60])
                progress(int(step.group(1)) - 1, last[0], last[1])
        if "error" in chunk:
            error = chunk["error"].strip()
    if error is None and last is not None and progress is not None:
        progress(last[0], last[0], "built")
    return error


def build_image(base: str | None = None, stage: str = "renderer", tag: str | None = None,
                wheels: bool = True, log: Callable[[str], None] = print,
                progress: Callable[[int, int, str], None] | None = None) -> str:
    """Build the Dockerfile's ``stage`` (``renderer`` or ``harness``) and return its tag.
    ``progress(done, total, what)`` follows the Dockerfile's steps (see ``follow_build``).

    ``base`` is the BASE build argument (default: the Dockerfile's, an official slim Python
    image). The renderer stage builds with network ``none`` from wheels downloaded here first.
    """
    if not DOCKERFILE.is_file():
        raise FileNotFoundError(f"no Dockerfile at {DOCKERFILE}: building the image needs a source checkout")
    if stage not in ("renderer", "harness"):
        raise ValueError(f"--stage {stage!r} is not one of renderer, harness")
    tag = tag or (image_tag() if stage == "renderer" else f"svgarena-harness:{image_tag().split(':')[1]}")
    if wheels:
        download_wheels(REPO_ROOT / "docker" / "wheels", log)
    c = client(timeout=600)
    try:
        kwargs = {"path": str(REPO_ROOT), "dockerfile": "Dockerfile", "target": stage, "tag": tag, "rm": True,
                  "forcerm": True, "decode": True, "labels": {LABEL_ROLE: f"{stage}-image"}}
        if base:
            kwargs["buildargs"] = {"BASE": base}
        if stage == "renderer":
            kwargs["network_mode"] = "none"
        error = follow_build(c.api.build(**kwargs), log, progress)
        if error:
            hint = ""
            if not base and any(w in error for w in ("pull", "registry", "lookup", "dial tcp", "not found")):
                hint = ("; where no registry is reachable, make a base image from Debian with "
                        "scripts/docker_base.sh and pass --base svgarena-base:bookworm")
            raise RuntimeError(f"docker build failed: {error.splitlines()[0]}{hint}")
        if stage == "renderer":
            c.images.get(tag).tag(IMAGE_REPO, "latest")
    finally:
        c.close()
    return tag
