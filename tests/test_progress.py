"""Progress on stderr: only past the delay, only where enabled, overwritten in place."""

import io

from memcg_zombies.progress import QUIET, Progress


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_short_phase_says_nothing():
    out, clock = io.StringIO(), Clock()
    p = Progress(out, enabled=True, clock=clock)
    with p.phase("page scan", total=10) as ph:
        clock.t = 1.0
        ph.advance(10)
    assert out.getvalue() == ""


def test_long_phase_shows_percentage_and_duration():
    out, clock = io.StringIO(), Clock()
    p = Progress(out, enabled=True, clock=clock)
    with p.phase("zombies analysed", total=200) as ph:
        for i in range(200):
            clock.t = i * 0.05
            ph.advance()
        clock.t = 12.5
    text = out.getvalue()
    assert "\rzombies analysed: 20% (41 of 200)" in text
    # The last line overwrites the longer one before it entirely.
    last = text.rsplit("\r", 1)[1]
    assert last.endswith("\n") and last.rstrip() == "zombies analysed: done in 12.5 s"
    assert len(last) - 1 == len("zombies analysed: 98% (197 of 200)")
    # Throttled: one line per 0.2 s of work past the 2 s delay, not one per zombie.
    assert text.count("\r") < 50


def test_not_a_terminal_or_quiet_says_nothing():
    out, clock = io.StringIO(), Clock()  # StringIO is no terminal
    p = Progress(out, clock=clock)
    with p.phase("page scan") as ph:
        clock.t = 5
        ph.advance()
    assert out.getvalue() == "" and not p.enabled and not QUIET.enabled
