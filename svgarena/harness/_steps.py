"""Progress of one long step (scoring, a download, an image build, a suite build): counts and time left.

On a terminal it is a Rich progress bar (count, rate, time left); elsewhere (a pipe, a CI log) one
plain line every ``every_s`` seconds and a last one when the step ends, so a log shows the step is
alive without a line per item. The code doing the work only calls ``update``; it never knows which
of the two it feeds (``StepProgress`` is also a ``(done, total, what)`` callback).
"""

from __future__ import annotations

import time
from typing import Any, Callable

EVERY_S = 10.0  # a line log prints at most one progress line this often


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _amount(n: float, unit: str) -> str:
    if unit == "B":
        return f"{n / 1e6:.1f} MB"
    return f"{int(n)}{' ' + unit if unit else ''}"


class StepProgress:
    """``with StepProgress("scoring", total=80, unit="samples") as p: p.update(advance=16)``.

    ``live``: None decides by the console (a terminal gets the bar); ``emit`` prints a log line
    (default: the console's stderr). ``total`` may be unknown (None) or learnt later.
    """

    def __init__(self, label: str, total: float | None = None, *, unit: str = "", console: Any = None,
                 live: bool | None = None, every_s: float = EVERY_S, emit: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0.0
        self.what = ""
        self.every_s = every_s
        self.clock = clock
        self.started = clock()
        self._last_line = float("-inf")
        if console is None and (live or emit is None):
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console
        self.live = bool(console.is_terminal) if live is None else live
        self.emit = emit or (lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True))
        self._bar: Any = None
        self._id: Any = None
        self._updated = False

    # --- the figures

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    @property
    def left_s(self) -> float | None:
        """Time left at the pace so far; None before anything is done or without a total."""
        if not self.done or not self.total:
            return None
        return max(0.0, self.elapsed_s / self.done * (self.total - self.done))

    def line(self) -> str:
        """``scoring: 40/80 samples (50%), 0:12 elapsed, about 0:12 left [icon/img2svg ssim]``."""
        if self.total:
            count = (f"{_amount(self.done, 'B')}/{_amount(self.total, 'B')}" if self.unit == "B" else
                     f"{int(self.done)}/{int(self.total)}{' ' + self.unit if self.unit else ''}")
            count += f" ({100 * self.done / self.total:.0f}%)"
        else:
            count = _amount(self.done, self.unit)
        text = f"{self.label}: {count}, {_clock(self.elapsed_s)} elapsed"
        if self.left_s is not None and self.done < (self.total or 0):
            text += f", about {_clock(self.left_s)} left"
        return text + (f" [{self.what}]" if self.what else "")

    # --- driving it

    def __enter__(self) -> "StepProgress":
        return self

    def _start_bar(self) -> None:
        """The bar appears with the first update (a step with nothing to do draws nothing)."""
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        count = MofNCompleteColumn() if self.unit != "B" else TextColumn("{task.completed:.0f} B")
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), count, TextColumn("{task.fields[unit]}"),
                             TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                             TextColumn("{task.fields[what]}"), console=self.console, transient=False)
        self._bar.start()
        self._id = self._bar.add_task(self.label, total=self.total, unit=self.unit if self.unit != "B" else "", what="")

    def update(self, done: float | None = None, *, advance: float = 0, total: float | None = None,
               what: str | None = None) -> None:
        self._updated = True
        if total is not None:
            self.total = total
        self.done = (done if done is not None else self.done) + advance
        if what is not None:
            self.what = what
        if self.live and self._bar is None:
            self._start_bar()
        if self._bar is not None:
            self._bar.update(self._id, completed=self.done, total=self.total, what=self.what)
            return
        now = self.clock()
        if now - self._last_line >= self.every_s:
            self._last_line = now
            self.emit(self.line())

    def __call__(self, done: float, total: float | None = None, what: str | None = None) -> None:
        self.update(done, total=total, what=what)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self._updated:  # a step that never reported (nothing to download) prints nothing
            self.emit(self.line() + ("" if exc[0] is None else " (stopped)"))
