"""Start server processes, wait until each answers on its health endpoint, restart any that dies, stop them all.

Each process runs in its own session (so a terminal's Ctrl-C reaches only svgarena, which then
stops them in order) with its output appended to ``<log dir>/<name>.log``. Readiness is polled over
HTTP, never assumed after a sleep: a server is ready when its health path answers 200 and, where
a model name is expected, ``/v1/models`` lists it. Workers behind an LMDeploy proxy register
themselves (``--proxy-url``); when the proxy itself is restarted the supervisor registers the
living workers with it again, since workers only announce themselves when they start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from svgarena.serve._commands import ServerCommand
from svgarena.serve._gpus import ServeError


def http_get(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    """(status, parsed JSON or text) for a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=timeout) as resp:  # noqa: S310 (local URLs)
            body = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return 0, None
    try:
        return status, json.loads(body or b"null")
    except ValueError:
        return status, body.decode("utf-8", "replace")


def http_post_json(url: str, payload: dict[str, Any], timeout: float = 5.0) -> int:
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (local URLs)
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def is_ready(cmd: ServerCommand) -> bool:
    status, _ = http_get(cmd.base_url + cmd.health_path)
    if status != 200:
        return False
    if cmd.ready_model is None:
        return True
    status, body = http_get(cmd.base_url + "/v1/models")
    names = {m.get("id") for m in body.get("data", [])} if status == 200 and isinstance(body, dict) else set()
    return cmd.ready_model in names


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


class Supervisor:
    """Keeps a set of servers alive: ``start`` (ready or error), ``watch`` (restart the dead), ``stop``."""

    def __init__(self, commands: list[ServerCommand], log_dir: Path, *, ready_timeout_s: float = 1800.0,
                 poll_s: float = 0.5, max_restarts: int = 5, restart_window_s: float = 600.0,
                 stop_grace_s: float = 20.0, say: Callable[[str], None] = print) -> None:
        self.commands = commands
        self.log_dir = Path(log_dir)
        self.ready_timeout_s = ready_timeout_s
        self.poll_s = poll_s
        self.max_restarts = max_restarts
        self.restart_window_s = restart_window_s
        self.stop_grace_s = stop_grace_s
        self.say = say
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, deque[float]] = {c.name: deque() for c in commands}
        self.restart_count = 0
        self._stopping = False

    def log_path(self, cmd: ServerCommand) -> Path:
        return self.log_dir / f"{cmd.name}.log"

    def _spawn(self, cmd: ServerCommand) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path(cmd), "ab")  # noqa: SIM115 (the child keeps it)
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} svgarena starts: {' '.join(cmd.argv)}\n".encode())
        log.flush()
        env = dict(os.environ, **cmd.env)
        try:
            proc = subprocess.Popen(cmd.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        except OSError as exc:
            raise ServeError(f"cannot start {cmd.name} ({cmd.argv[0]}): {exc.strerror or exc}") from None
        finally:
            log.close()
        self.procs[cmd.name] = proc
        return proc

    def _wait_ready(self, cmds: list[ServerCommand], quiet: bool = False) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        pending = list(cmds)
        while pending:
            for cmd in list(pending):
                proc = self.procs[cmd.name]
                code = proc.poll()
                if code is not None:
                    raise ServeError(f"{cmd.name} exited with code {code} before it was ready; "
                                     f"its log {self.log_path(cmd)} ends: {log_tail(self.log_path(cmd))}")
                if is_ready(cmd):
                    pending.remove(cmd)
                    if not quiet:
                            self.say(f"{cmd.name} ready at {cmd.base_url} (pid {proc.pid}, log {self.log_path(cmd)})")
            if pending and time.monotonic() > deadline:
                names = ", ".join(c.name for c in pending)
                raise ServeError(f"{names} not ready after {self.ready_timeout_s:g} s; see {self.log_dir}")
            if pending:
                time.sleep(self.poll_s)

    def start(self) -> None:
        """Start everything and return once all of it is ready; on failure, stop what started and raise."""
        try:
            proxies = [c for c in self.commands if c.role == "proxy"]
            others = [c for c in self.commands if c.role != "proxy"]
            for cmd in proxies:  # the proxy first: workers register with it as they come up
                self._spawn(cmd)
            if proxies:
                self._wait_ready([_reachable(c) for c in proxies], quiet=True)
            for cmd in others:
                self._spawn(cmd)
            self._wait_ready(others)
            if proxies:
                self._register_workers()
                self._wait_ready(proxies)
        except BaseException:
            self.stop()
            raise

    def _register_workers(self) -> None:
        """(Re-)announce every living worker to the proxy, as ``api_server --proxy-url`` does at start-up."""
        proxy = next(c for c in self.commands if c.role == "proxy")
        for cmd in self.commands:
            if cmd.role == "worker" and self.procs.get(cmd.name) and self.procs[cmd.name].poll() is None:
                http_post_json(proxy.base_url + "/nodes/add",
                               {"url": cmd.base_url, "status": {"models": [cmd.ready_model] if cmd.ready_model else []}})

    def check_once(self) -> list[str]:
        """Restart every server that has died; returns the names restarted. Raises when one keeps dying."""
        restarted = []
        for cmd in self.commands:
            proc = self.procs.get(cmd.name)
            if proc is None or proc.poll() is None or self._stopping:
                continue
            now = time.monotonic()
            window = self.restarts[cmd.name]
            while window and now - window[0] > self.restart_window_s:
                window.popleft()
            if len(window) >= self.max_restarts:
                raise ServeError(f"{cmd.name} died {len(window) + 1} times in {self.restart_window_s:g} s; giving up. "
                                 f"Its log {self.log_path(cmd)} ends: {log_tail(self.log_path(cmd))}")
            window.append(now)
            self.restart_count += 1
            self.say(f"{cmd.name} exited with code {proc.returncode}; restarting it (log {self.log_path(cmd)})")
            self._spawn(cmd)
            if cmd.role == "proxy":  # up first, then told about the living workers, then serving the model
                self._wait_ready([_reachable(cmd)], quiet=True)
                self._register_workers()
            self._wait_ready([cmd])
            if cmd.role == "worker":
                self._register_workers()  # it registers itself too; doing it here costs nothing
            restarted.append(cmd.name)
        return restarted

    def watch(self, until: Callable[[], bool] | None = None) -> None:
        """Check every ``poll_s`` until ``until()`` is true (or forever; Ctrl-C ends it)."""
        while not (until and until()):
            self.check_once()
            time.sleep(self.poll_s)

    def stop(self) -> None:
        """SIGTERM every server (workers before the proxy), SIGKILL what is still alive after the grace period."""
        self._stopping = True
        order = [c for c in self.commands if c.role != "proxy"] + [c for c in self.commands if c.role == "proxy"]
        for cmd in order:
            proc = self.procs.get(cmd.name)
            if proc is not None and proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_s
        for cmd in order:
            proc = self.procs.get(cmd.name)
            if proc is None:
                continue
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
            _signal_group(proc, signal.SIGKILL)  # children the server left behind in its session


def _reachable(cmd: ServerCommand) -> ServerCommand:
    """The proxy before any worker joined: up when its health path answers (its model list is still empty)."""
    return ServerCommand(name=cmd.name, argv=cmd.argv, port=cmd.port, host=cmd.host, env=cmd.env,
                         health_path=cmd.health_path, ready_model=None, role=cmd.role)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
