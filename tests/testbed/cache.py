"""Where the test bed keeps what it downloads and builds: outside the clone, so that
CI on the same machine and later checkouts reuse it."""

import hashlib
import os
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def root() -> Path:
    base = os.environ.get("MZ_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(xdg) / "memcg-zombies"


def fresh() -> bool:
    """Check what a new user gets, not what the cache remembers: with CI=true (or
    MZ_FRESH=1) every series' newest ABI is resolved afresh (a kernel of an unchanged ABI
    is reused) and every case the test bed builds is built anew."""
    return os.environ.get("CI") == "true" or os.environ.get("MZ_FRESH") == "1"


def path(*parts: str) -> Path:
    p = root().joinpath(*parts)
    p.mkdir(parents=True, exist_ok=True)
    return p


def digest(files, extra: str = "") -> str:
    """A short hash of file contents (sorted by path), used as a cache key."""
    h = hashlib.sha256(extra.encode())
    for f in sorted(Path(x) for x in files):
        h.update(str(f.relative_to(PROJECT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def du(p: Path) -> int:
    total = 0
    for dirpath, _, names in os.walk(p):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
            except OSError:
                pass
    return total
