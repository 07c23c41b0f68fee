"""The dashboard of ``svgarena run`` and the line log both it and ``watch`` print off a terminal.

The run's own view is drawn from the store, exactly as ``watch`` draws it from another terminal:
a thread opens a read-only WAL reader once a second (``FRAME_S``), builds one
:class:`~svgarena.harness._watch.Snapshot` and redraws it with Rich Live (on a terminal) or hands
it to :class:`LineLog` (a pipe, a CI log, ``--no-live``). The runner itself only writes what it
writes anyway, plus one heartbeat row per half second (``_live.py``); drawing never touches the
event loop.

Rich Live, not Textual: the in-run view is a read-only picture that must coexist with the
runner's own printing (notes, the end-of-run tables) in an ordinary scrolling terminal and in a
plain log; Live redraws a renderable in place and leaves the last frame in the scrollback.
Textual would take over the whole screen with its own event loop, and an interactive view has
nothing to act on here (the run is steered by its flags, stopped by Ctrl-C and resumed with
``--resume``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from svgarena.harness._watch import Snapshot, _read, failure_line, render

LINE_S = 5.0  # a line log prints the progress block at most this often (new failures at once)
FRAME_S = 1.0  # the run's own dashboard reads the store and redraws at most once a second
CLOCK_S = 2.0  # a frame whose only change is the clocks is redrawn at most this often (drawing costs ~10 ms CPU)


class LineLog:
    """A snapshot as a log: the progress block when it changed (at most every ``interval_s``, and
    always once the run has ended), each new failure once, as it appears."""

    def __init__(self, emit: Callable[[str], None], interval_s: float = LINE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.emit = emit
        self.interval_s = interval_s
        self.clock = clock
        self._last: list[str] | None = None
        self._last_t = float("-inf")
        self._seen: set[tuple] = set()

    def update(self, snap: Snapshot, *, final: bool = False) -> None:
        block = [ln for ln in snap.lines() if not ln.startswith("  failed ")]
        now = self.clock()
        if block != self._last and (final or snap.ended or now - self._last_t >= self.interval_s):
            for line in block:
                self.emit(line)
            self._last, self._last_t = block, now
        for f in reversed(snap.failures):  # oldest first
            key = (f["task"], f["model"], f["sample_id"], f["round"], f.get("created"))
            if key not in self._seen:
                self._seen.add(key)
                self.emit(failure_line(f))


class RunDashboard:
    """The runner's ``Progress``: draws the store's snapshot while the run goes (see the module doc).

    ``live``: redraw in place with Rich Live; otherwise a :class:`LineLog`. The drawing thread starts
    with the first unit of work (the store exists by then) and ``stop`` draws the final state.
    """

    def __init__(self, store_path: Path, console: Any, *, live: bool, period_s: float = FRAME_S,
                 line_s: float = LINE_S) -> None:
        self.path = Path(store_path)
        self.console = console
        self.live = live
        self.period_s = period_s
        self.frames = 0  # snapshots drawn (the benchmark reads it)
        self._log = LineLog(self._print, line_s)
        self._shown: tuple[Any, float] | None = None  # (the drawn snapshot without its clocks, when)
        self._screen: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _print(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    # --- the runner's Progress protocol

    def start(self, task: str, model: str, total: int) -> None:
        if self._thread is None:
            if self.live:
                from rich.live import Live

                self._screen = Live(console=self.console, auto_refresh=False, transient=False)
                self._screen.start()
            self._thread = threading.Thread(target=self._follow, name="svgarena-dashboard", daemon=True)
            self._thread.start()

    def advance(self, task: str, model: str, outcome: Any) -> None:
        """Nothing to do: the store already holds the finished trajectory, the next frame shows it."""

    def note(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    # --- drawing

    def _draw(self, final: bool = False) -> None:
        snap = _read(self.path)
        if snap is None:
            return
        with self._lock:
            if self._screen is not None:
                key = replace(snap, taken=0.0, elapsed_s=None, live_age_s=None)
                now = time.monotonic()
                if not final and self._shown is not None and self._shown[0] == key and now - self._shown[1] < CLOCK_S:
                    return  # nothing but the clocks moved: skip this redraw
                self._shown = (key, now)
                self.frames += 1
                self._screen.update(render(snap), refresh=True)
            else:
                self.frames += 1
                self._log.update(snap, final=final)

    def _follow(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self._draw()
            except Exception:  # noqa: BLE001 - a drawing hiccup must never stop the run
                pass

    def stop(self) -> None:
        """Stop the thread, draw the final state once, and leave it on the screen."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=10)
        self._thread = None
        try:
            self._draw(final=True)
        finally:
            if self._screen is not None:
                self._screen.stop()
                self._screen = None
