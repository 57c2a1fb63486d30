"""
Progress on long work
---------------------

A report of a 100,000-zombie host takes a minute: a user at a terminal should see
which phase runs and how far it is. Nothing is shown for a phase that ends within
``delay`` seconds, nothing on a pipe or file (scripts and scrapers read stderr too),
nothing with ``--quiet``. Lines go to stderr and are overwritten in place (``\\r``);
the last one of a phase that was shown ends with its duration. The delay can be set
with ``MEMCG_ZOMBIES_PROGRESS_DELAY`` (seconds; the tests use 0).

    >>> with progress.phase("zombies analysed", total=len(dying)) as p:
    ...     for z in dying:
    ...         ...
    ...         p.advance()
"""

import os
import sys
import time
from typing import IO, Optional

__all__ = ("Progress", "Phase", "QUIET")


class Phase:
    """One phase: ``advance()`` as work is done; shown once it outlives the delay."""

    def __init__(self, owner: "Progress", name: str, total: Optional[int]) -> None:
        self.owner = owner
        self.name = name
        self.total = total
        self.done = 0
        self.start = owner.clock()
        self.shown = False
        self.last = 0.0

    def _line(self) -> str:
        if self.total:
            pct = min(100, 100 * self.done // self.total)
            return f"{self.name}: {pct}% ({self.done:,} of {self.total:,})"
        return f"{self.name}: {self.done:,}" if self.done else f"{self.name}..."

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = self.owner.clock()
        if now - self.start < self.owner.delay or now - self.last < self.owner.interval:
            return
        self.last = now
        self.shown = True
        self.owner.write(self._line())

    def __enter__(self) -> "Phase":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown or self.owner.clock() - self.start >= self.owner.delay:
            if self.owner.enabled:
                seconds = self.owner.clock() - self.start
                self.owner.write(f"{self.name}: done in {seconds:.1f} s", end=True)


class Progress:
    """Where progress goes: ``enabled`` defaults to "stderr is a terminal"."""

    def __init__(self, stream: Optional[IO[str]] = None, enabled: Optional[bool] = None,
                 delay: Optional[float] = None, interval: float = 0.2,
                 clock=time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.delay = delay if delay is not None else float(
            os.environ.get("MEMCG_ZOMBIES_PROGRESS_DELAY", "2"))
        self.interval = interval
        self.clock = clock
        self.width = 0

    def phase(self, name: str, total: Optional[int] = None) -> Phase:
        return Phase(self, name, total)

    def write(self, line: str, end: bool = False) -> None:
        if not self.enabled:
            return
        pad = max(0, self.width - len(line))
        self.stream.write("\r" + line + " " * pad + ("\n" if end else ""))
        self.stream.flush()
        self.width = 0 if end else len(line)


#: Progress that shows nothing (``--quiet``, pipes, library use).
QUIET = Progress(enabled=False)
