"""Progress on stderr: only past the delay, only where enabled, overwritten in place."""

import io
import re

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


def _stderr_on_a_terminal(*args):
    """Run the CLI on the 6.1 case with stderr on a pseudo-terminal: (its stderr, stdout)."""
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import index

    case = next((c for c in index()["cases"] if c["kernel"] == "6.1"), None)
    if case is None:
        import pytest
        pytest.skip("no 6.1 case in the test bed")
    import tempfile

    master, slave = pty.openpty()
    report = tempfile.TemporaryFile()  # a pipe would fill while stderr is read
    r = subprocess.Popen([sys.executable, "-m", "memcg_zombies", "-c", case["vmcores"]["kdump"],
                          "-s", case["vmlinux"], "--format", "json", *args],
                         stdout=report, stderr=slave,
                         env={**os.environ, "MEMCG_ZOMBIES_PROGRESS_DELAY": "0"})
    os.close(slave)
    import select

    err = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if r.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal and nothing is left
            break
        if not chunk:
            break
        err += chunk
    assert r.wait(timeout=600) == 0, err[-2000:]
    os.close(master)
    report.seek(0)
    out = report.read()
    return err.decode(errors="replace"), out


def test_cli_progress_on_a_terminal_only():
    err, out = _stderr_on_a_terminal()
    assert re.search(r"\rzombies analysed: \d+% \([\d,]+ of [\d,]+\)", err), err
    assert "\rzombies analysed: done in " in err, err
    assert "pins found (page scan, sockets, swap, ...): done in " in err
    assert out.startswith(b"{")  # stdout is the report alone
    quiet, _ = _stderr_on_a_terminal("--quiet")
    assert "zombies analysed" not in quiet, quiet
