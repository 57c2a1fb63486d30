"""Newer dump tools beside Debian 12's: crash and makedumpfile as users of new kernels run them.

Bookworm's crash 8.0.2 cannot open 6.12+ dumps and its makedumpfile 1.7.2 drops the slab
pages of 6.12+ kernels at `-d 31` (docs/real-kernel-testbed.md). Debian's newest suite
carries crash 9.x and makedumpfile 1.7.8, built against a newer C library than
bookworm's. They run here unchanged through that C library's own dynamic loader
(`ROOT/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path ... BINARY`): no
chroot and no source build (crash's takes ~21 min of two cores). Each package and its
shared-library closure are downloaded through the test bed's private apt state and
extracted once per package version into the cache (`tools/<package>-<version>/`), with
`bin/<binary>`, a wrapper script, and `tool.json`. Like a kernel series, a tool is pinned
to the version its first run resolved; fresh runs (CI=true) resolve the newest again.

    python3 -m tests.testbed.tools [--crash-path]
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

from . import cache, kernels

#: The suite the newer tools come from, and the binary each package provides.
SUITE = "sid"
TOOLS = {"crash": "usr/bin/crash", "makedumpfile": "usr/bin/makedumpfile"}
#: Dependencies that are programs, not libraries the binary loads (crash runs without
#: binutils' programs; makedumpfile's perl is for makedumpfile-R.pl only).
NOT_LOADED = {"perl", "perl:any", "binutils", "debconf"}
LIBDIR = "usr/lib/x86_64-linux-gnu"


def log(msg):
    print(f"[tools] {msg}", file=sys.stderr, flush=True)


def _suite_versions(apt, pkgs: List[str]) -> Dict[str, str]:
    """{package: its version in SUITE} from one `apt-cache madison` call."""
    out = subprocess.run(["apt-cache", *apt.opts, "madison", *pkgs],
                         capture_output=True, text=True).stdout
    found: Dict[str, str] = {}
    for line in out.splitlines():
        if line.count("|") != 2:
            continue
        pkg, version, where = (f.strip() for f in line.split("|"))
        parts = where.split()
        if len(parts) > 1 and parts[1].split("/")[0] == SUITE and pkg not in found:
            found[pkg] = version
    return found


def _depends(apt, pkg: str, version: str) -> List[str]:
    """First alternative of each Depends/Pre-Depends group, without version or arch."""
    out = subprocess.run(["apt-cache", *apt.opts, "show", f"{pkg}={version}"],
                         capture_output=True, text=True, check=True).stdout
    names = []
    for line in out.split("\n\n")[0].splitlines():
        if line.startswith(("Depends:", "Pre-Depends:")):
            for group in line.split(":", 1)[1].split(","):
                name = group.split("|")[0].split("(")[0].strip()
                if name and name not in NOT_LOADED:
                    names.append(name.split(":")[0])
    return names


def _closure(apt, pkg: str, version: str) -> Dict[str, str]:
    """{package: SUITE version} of `pkg` and every library it loads, transitively."""
    want = {pkg: version}
    todo = [pkg]
    while todo:
        name = todo.pop()
        new = [d for d in _depends(apt, name, want[name]) if d not in want]
        if not new:
            continue
        versions = _suite_versions(apt, new)
        missing = [d for d in new if d not in versions]
        if missing:
            raise RuntimeError(f"{name}: {', '.join(missing)} not in {SUITE}")
        want.update(versions)
        todo += new
    return want


def _loader(root: Path) -> Path:
    return root / LIBDIR / "ld-linux-x86-64.so.2"


def _wrapper(root: Path, binary: str, dest: Path) -> None:
    lib = root / LIBDIR
    dest.write_text("#!/bin/sh\n# " + f"{SUITE}'s {Path(binary).name}, through {SUITE}'s own "
                    "C library (tests/testbed/tools.py)\n"
                    f'exec "{_loader(root)}" --library-path "{lib}" "{root / binary}" "$@"\n')
    dest.chmod(0o755)


def _unresolved(root: Path, binary: str) -> List[str]:
    r = subprocess.run([str(_loader(root)), "--list", "--library-path", str(root / LIBDIR),
                        str(root / binary)], capture_output=True, text=True)
    return [line.strip() for line in (r.stdout + r.stderr).splitlines() if "not found" in line]


def _install(apt, pkg: str, version: str, dest: Path) -> dict:
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "debs").mkdir(parents=True)
    closure = _closure(apt, pkg, version)
    log(f"{pkg} {version}: downloading {len(closure)} packages from {SUITE}")
    r = subprocess.run(["apt-get", "-qq", *apt.opts, "download",
                        *[f"{p}={v}" for p, v in sorted(closure.items())]],
                       cwd=tmp / "debs", capture_output=True, text=True)
    debs = sorted((tmp / "debs").glob("*.deb"))
    if r.returncode or len(debs) != len(closure):
        raise RuntimeError(f"apt-get download for {pkg} failed: {r.stderr.strip()[-300:]}")
    root = tmp / "root"
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    shutil.rmtree(tmp / "debs")
    missing = _unresolved(root, TOOLS[pkg])
    if missing:
        raise RuntimeError(f"{pkg} {version}: libraries not resolved: {missing}")
    if dest.exists():
        shutil.rmtree(dest)
    os.rename(tmp, dest)
    root = dest / "root"
    (dest / "bin").mkdir()
    _wrapper(root, TOOLS[pkg], dest / "bin" / Path(TOOLS[pkg]).name)
    rec = {"package": pkg, "version": version, "suite": SUITE,
           "bin": str(dest / "bin" / Path(TOOLS[pkg]).name), "root": str(root),
           "packages": [f"{p}={v}" for p, v in sorted(closure.items())]}
    if pkg == "crash":
        rec["defs_h"] = str(root / "usr/include/crash/defs.h")
        rec["gdb_define"] = gdb_define(version)
    (dest / "tool.json").write_text(json.dumps(rec, indent=2))
    return rec


def gdb_define(version: str) -> str:
    """The GDB_x_y macro crash's defs.h needs, from the Debian version of the crash
    package: `9.0.2+~16.3-1` carries gdb 16.3 (a component of the source package)."""
    m = re.search(r"\+~(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"crash {version}: no gdb version in the package version")
    return f"GDB_{m.group(1)}_{m.group(2)}"


def ensure(pkg: str, refresh: Optional[bool] = None) -> dict:
    """The record of SUITE's `pkg`: the pinned one, or with `refresh` (fresh runs) the
    newest, extracted once per version."""
    refresh = cache.fresh() if refresh is None else refresh
    pin = cache.path("tools") / f"{pkg}.json"
    pinned = json.loads(pin.read_text()) if pin.exists() else None
    if pinned and Path(pinned["bin"]).exists() and not refresh:
        return pinned
    apt = kernels._shared_apt()  # one apt update per run, shared with the kernels
    apt.update()
    version = _suite_versions(apt, [pkg]).get(pkg)
    if version is None:
        raise SystemExit(f"testbed: {pkg} is not in {SUITE}")
    dest = cache.path("tools") / f"{pkg}-{version.replace(':', '_')}"
    known = dest / "tool.json"
    rec = json.loads(known.read_text()) if known.exists() else None
    if rec is None or not Path(rec["bin"]).exists():
        rec = _install(apt, pkg, version, dest)
    pin.write_text(json.dumps(rec, indent=2))
    log(f"{pkg}: using {SUITE}'s {version}")
    return rec


def pinned(pkg: str) -> Optional[dict]:
    """The pinned record of `pkg` if it is installed (never downloads: for tests)."""
    pin = cache.root() / "tools" / f"{pkg}.json"
    if not pin.exists():
        return None
    rec = json.loads(pin.read_text())
    return rec if Path(rec["bin"]).exists() else None


def version_of(makedumpfile: str) -> str:
    """`makedumpfile -v`'s version (1.7.8), for the case record."""
    out = subprocess.run([makedumpfile, "-v"], capture_output=True, text=True).stdout
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else "unknown"


def extension_for(rec: dict) -> Path:
    """libhelper's zombies.so built against this crash's defs.h (make -C libhelper crash)."""
    so = cache.PROJECT / "libhelper" / "build" / f"crash-{rec['version'].split('+')[0]}" / "zombies.so"
    subprocess.run(["make", "-s", "-C", str(cache.PROJECT / "libhelper"), "crash",
                    f"CRASH_DEFS={rec['defs_h']}", f"CRASH_GDB={rec['gdb_define']}",
                    f"CRASH_SO={so}"], check=True, stdout=sys.stderr)
    return so


def main(argv):
    if "--crash-path" in argv:
        rec = ensure("crash")
        so = extension_for(rec)
        print(rec["bin"])
        print(so)
        return
    for pkg in TOOLS:
        print(json.dumps(ensure(pkg), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
