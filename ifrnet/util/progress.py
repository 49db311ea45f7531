"""Progress of long work (training, iterative reconstructions) on stderr, with an ETA.

On a terminal, one line redrawn in place (carriage return) at most every ``redraw_s`` seconds.
Otherwise (a log file, a pipe) whole newline-terminated lines, so that logs stay readable::

    IFR-CS: 300/1000 (30 %) elapsed 0:00:12, ETA 0:00:28

one each time the work passes another ``step_percent`` of the total, but not more often than
every ``min_s`` seconds (quick work prints nothing), and at least every ``max_s`` seconds while
it runs; a last line says when it finished (or stopped early: converged) if anything was
printed. ``IFRNET_PROGRESS=0`` in the environment silences it.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

CLOCK: Callable[[], float] = time.monotonic  # the default clock (seconds); tests replace it


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` of a duration in seconds (``?`` if unknown)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class Progress:
    """Count ``total`` units of work named ``desc``; call :meth:`update` as they finish.

    ``initial`` units are already done (resumed work: the ETA counts the rate since the start
    of this object only); ``enabled=False`` prints nothing. ``stream`` defaults to stderr,
    ``clock`` to :data:`CLOCK` (both injectable for tests).
    Use as a context manager, or call :meth:`close` at the end.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        unit: str = "",
        stream: TextIO | None = None,
        clock: Callable[[], float] | None = None,
        step_percent: float = 10.0,
        min_s: float = 5.0,
        max_s: float = 60.0,
        redraw_s: float = 0.2,
        initial: int = 0,
        enabled: bool = True,
    ) -> None:
        self.total, self.desc, self.unit = max(int(total), 0), desc, unit
        self.stream = sys.stderr if stream is None else stream
        self.clock = clock or CLOCK
        self.step, self.min_s, self.max_s = step_percent, min_s, max_s
        self.redraw_s = redraw_s
        self.enabled = enabled and os.environ.get("IFRNET_PROGRESS", "1") != "0"
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.initial = self.done = int(initial)  # resumed work
        self.note = ""
        self.start = self.last = self.clock()
        self.printed, self.closed = False, False
        self.last_step = self._step()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1, note: str = "") -> None:
        """Record ``n`` more units done; ``note`` (e.g. a loss) is shown after the ETA."""
        self.done = min(self.done + n, self.total) if self.total else self.done + n
        self.note = note or self.note
        if not self.enabled:
            return
        now = self.clock()
        if self.tty:
            if now - self.last >= self.redraw_s or self.done == self.total:
                self._emit(self.line(now), end="\r")
                self.last = now
            return
        step = self._step()
        since = now - self.last
        if (step > self.last_step and since >= self.min_s) or since >= self.max_s:
            self._emit(self.line(now))
            self.last, self.last_step = now, step

    def _step(self) -> int:
        return int(100 * self.done / self.total // self.step) if self.total else 0

    def write(self, message: str) -> None:
        """Print a whole line without breaking the progress line on a terminal."""
        if self.tty and self.printed and self.enabled:
            self.stream.write("\r\033[K")
        print(message, file=self.stream, flush=True)

    def close(self) -> None:
        """End the progress output: a final line if anything was printed."""
        if self.closed:
            return
        self.closed = True
        if not (self.enabled and self.printed):
            return
        now = self.clock()
        if self.tty:
            self._emit(self.line(now), end="\n")
        else:
            verb = "done in" if self.done >= self.total else "stopped early after"
            self._emit(
                f"{self.desc}: {self.done}/{self.total}{self.unit} {verb} "
                f"{format_duration(now - self.start)}"
            )

    def line(self, now: float) -> str:
        """``desc: done/total (p %) elapsed …, ETA …[, note]``."""
        elapsed = now - self.start
        fraction = self.done / self.total if self.total else 0.0
        rate = (self.done - self.initial) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        text = (
            f"{self.desc}: {self.done}/{self.total}{self.unit} ({100 * fraction:.0f} %) "
            f"elapsed {format_duration(elapsed)}, ETA {format_duration(eta)}"
        )
        return f"{text}, {self.note}" if self.note else text

    def _emit(self, text: str, end: str = "\n") -> None:
        prefix = "\r\033[K" if self.tty else ""
        self.stream.write(prefix + text + end)
        self.stream.flush()
        self.printed = True
