"""The crash extension (libhelper/crash/zombies.c) against the drgn analyzer.

Two crashes, each with a zombies.so built against its own defs.h: Debian 12's crash
8.0.2 (the distro lane: it opens only the 5.10 and 6.1 dumps) and the test bed's newest
(Debian sid's crash 9.x, tests/testbed/tools.py), which opens every kernel; on 7.x only
with `--no_modules` (crash 9.0.2 stops at 'invalid structure member offset:
module_num_gpl_syms'; the fix is in crash's git after 9.0.2), retried so when it says so.
Each runs non-interactively, one session per vmcore (opening a dump costs it 5-13 s):
`extend zombies.so`, `zombies`, `zombies -p /mz/ext4/leaf`, `zombies -p /mz/tcp/leaf`.
Its dying set, refcounts, pins (pages, children, swap ids, cgwb, TCP sockets, per-CPU
stock, bpf maps) and explained css refs must equal the drgn CLI's JSON report on the
same vmcore.
"""

import json
import os
import re
import shutil
import subprocess
from collections import Counter

import pytest

from tests.conftest import run_cli
from tests.expect import filtered_drops_pages, kver
from tests.testbed import tools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SO = os.path.join(ROOT, "libhelper", "build", "zombies.so")
CRASH_DEFS = "/usr/include/crash/defs.h"

#: crash 8.0.2 stops in its own initialisation on 6.12+ dumps ('invalid structure
#: member offset: module_core_size' on 6.12, 'kmem_cache_s_num' on 7.x; see
#: docs/real-kernel-testbed.md): those runs are skipped with
#: crash's own words, on those kernels only.
CRASH_TOO_OLD_FROM = (6, 12)
_CRASH_INIT_FAILED = re.compile(r"crash: (invalid structure member offset: \S+)")

#: (crash, dump format) pairs: the newest crash reads the newest makedumpfile's -d 31 too.
RUNS = [("distro", "kdump"), ("distro", "elf"),
        ("newest", "kdump"), ("newest", "elf"), ("newest", "d31")]
_NO_MODULES = re.compile(r"invalid structure member offset: module_")
PAGE_KINDS = ("pagecache", "shmem", "anon", "swapcache", "kmem")
#: Kinds of pin that are kernel objects (libhelper/crash/pinners.c), counted
#: as the drgn pins' count: sockets, per-CPU stock slots, bpf maps.
OBJECT_KINDS = ("socket", "stock", "bpf_map")
#: Kinds of pin the extension looks for: every kind with css refs on 5.10/6.1.
CRASH_KINDS = PAGE_KINDS + ("child", "swap", "cgwb") + OBJECT_KINDS
DETAIL = "/mz/ext4/leaf"
#: The TCP scenario: 2 established sockets and a listener on 127.0.0.1:7777.
DETAIL_TCP = "/mz/tcp/leaf"

_ROW = re.compile(r"^([0-9a-f]{16})\s+(-?\d+)\s+(-|-?\d+)\s+(-?\d+)\s+(\S+)\s+(/.*)$")
_SOCK = re.compile(r"^\s+socket\s+1 objects\s+(\d+)\s+(TCP .*\)) sock ([0-9a-f]+) "
                   r"skmem (\d+) bytes$")
_FILE = re.compile(r"^\s+(pagecache|shmem)\s+(\d+) pages\s+(\d+)\s+inode ([0-9a-f]+) ino (\d+) "
                   r"mapping ([0-9a-f]+) dirty (\d+) writeback (\d+)\s+(.*) \((\S+)\)"
                   r"( \[reparented\])?$")

_SESSIONS = {}


_EXTENSIONS = {}


def extension(which):
    """(crash command, zombies.so built for it) of the distro's or the newest crash."""
    if which not in _EXTENSIONS:
        if which == "distro":
            if shutil.which("crash") is None:
                pytest.skip("crash is not installed (apt-get install crash)")
            if not os.path.exists(CRASH_DEFS):
                pytest.skip(f"{CRASH_DEFS} missing (Debian's crash package ships it)")
            r = subprocess.run(["make", "-C", os.path.join(ROOT, "libhelper"), "crash"],
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, r.stdout + r.stderr
            _EXTENSIONS[which] = ("crash", SO)
        else:
            rec = tools.pinned("crash")
            if rec is None:
                pytest.skip("the test bed has no newer crash (make vmcores installs it)")
            _EXTENSIONS[which] = (rec["bin"], str(tools.extension_for(rec)))
        assert os.path.exists(_EXTENSIONS[which][1])
    return _EXTENSIONS[which]


def kernel_offset(vmcore):
    """KERNELOFFSET from the dump's VMCOREINFO text (crash needs --kaslr)."""
    tail = b""
    with open(vmcore, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            m = re.search(rb"KERNELOFFSET=([0-9a-fA-F]+)", tail + chunk)
            if m:
                return m.group(1).decode()
            tail = chunk[-64:]
    raise AssertionError(f"no KERNELOFFSET in {vmcore}")


def crash_session(crash, so, vmcore, vmlinux, *options):
    """Output of one crash session on vmcore, cached per crash, vmcore and options."""
    key = (crash, vmcore, options)
    if key not in _SESSIONS:
        cmds = f"extend {so}\nzombies\nzombies -p {DETAIL}\nzombies -p {DETAIL_TCP}\nexit\n"
        r = subprocess.run([crash, *options, "--kaslr", "0x" + kernel_offset(vmcore), "-s",
                            vmlinux, vmcore], input=cmds, capture_output=True, text=True,
                           timeout=600)
        _SESSIONS[key] = r
    return _SESSIONS[key]


def parse_table(out):
    """`zombies` rows: cgroup id -> dict."""
    rows = {}
    for line in out.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        pins = Counter()
        if m.group(5) != "-":
            for item in m.group(5).split(","):
                k, v = item.split("=")
                pins[k] += int(v)
        rows[int(m.group(2))] = {"address": int(m.group(1), 16),
                                 "refcnt": None if m.group(3) == "-" else int(m.group(3)),
                                 "explained": int(m.group(4)), "pins": pins,
                                 "path": m.group(6)}
    return rows


def expected_pins(zombie):
    """The JSON pins in the extension's terms: kind -> count."""
    want = Counter()
    for p in zombie["pins"]:
        kind = p["kind"]
        if kind in PAGE_KINDS:
            if p["detail"].get("pins") is False:
                kind += "(reparented)"
            want[kind] += p["count"]
        elif kind == "swap":
            # Entries found in the swap map; the extension reads memcg->id.ref,
            # which a dying memcg holds once per swap entry.
            want["swap-ids"] += p["count"]
        elif kind in ("child", "cgwb") + OBJECT_KINDS:
            want[kind] += p["count"]
    return want


def detail_block(out, path):
    """The lines of `zombies -p path`: its MEMCG header to its explained line."""
    lines = out.splitlines()
    head = re.compile(rf"^MEMCG [0-9a-f]+  {re.escape(path)}$")
    start = next((i for i, line in enumerate(lines) if head.match(line)), None)
    assert start is not None, f"no `zombies -p {path}` output:\n" + out[-3000:]
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("  explained "))
    return lines[start:end + 1]


@pytest.fixture
def crash_out(case, request):
    which, fmt = request.param
    vmcore = case["vmcores"].get(fmt)
    if vmcore is None:
        pytest.skip(f"no {fmt} vmcore for {case['kernel']}")
    crash, so = extension(which)
    r = crash_session(crash, so, vmcore, case["vmlinux"])
    if which == "newest" and _NO_MODULES.search(r.stdout + r.stderr):
        r = crash_session(crash, so, vmcore, case["vmlinux"], "--no_modules")
    if which == "newest" and "shared object loaded" not in r.stdout and \
            filtered_drops_pages(case, fmt):
        # crash 9.0.2 ends its initialisation silently on 7.x dumps that lost compound
        # tail pages (makedumpfile 1.7.8 at -d 31): nothing to compare.
        last = (r.stdout + r.stderr).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"crash cannot open this {fmt} dump ({case['release']}): {last[0]}")
    if which == "distro" and "shared object loaded" not in r.stdout and \
            kver(case) >= CRASH_TOO_OLD_FROM:
        m = _CRASH_INIT_FAILED.search(r.stdout + r.stderr)
        if m:
            pytest.skip(f"crash 8.0.2 cannot open {case['release']} dumps: {m.group(1)}")
    assert "shared object loaded" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    cli = run_cli(vmcore, case["vmlinux"])
    assert cli.returncode == 0, cli.stderr
    return r.stdout, json.loads(cli.stdout)


def pytest_generate_tests(metafunc):
    if "crash_out" in metafunc.fixturenames:
        metafunc.parametrize("crash_out", RUNS, indirect=True,
                             ids=[f"{c}-{f}" for c, f in RUNS])


def test_dying_set_and_refcounts(crash_out):
    out, report = crash_out
    rows = parse_table(out)
    zombies = {z["cgroup_id"]: z for z in report["zombies"]}
    assert zombies, "the drgn analyzer found no zombie"
    assert set(rows) == set(zombies)
    for cid, z in zombies.items():
        row = rows[cid]
        assert row["path"] == z["path"], cid
        assert row["address"] == int(z["address"], 16), cid
        if z["refcnt"] is not None:
            assert row["refcnt"] == z["refcnt"], z["path"]
    m = re.search(r"^(\d+) memcgs, (\d+) dying$", out, re.M)
    assert m and int(m.group(1)) == report["summary"]["total"]
    assert int(m.group(2)) == report["summary"]["dying"]


def test_pins_equal_drgn(crash_out):
    out, report = crash_out
    rows = parse_table(out)
    bad = []
    for z in report["zombies"]:
        row = rows.get(z["cgroup_id"])
        assert row is not None, z["path"]
        want = expected_pins(z)
        if row["pins"] != want:
            bad.append(f"{z['path']}: crash {dict(row['pins'])} != drgn {dict(want)}")
        # Both tools look for every kind that holds css refs here: the same
        # explained refs, and the same sockets.
        refs = sum(p["css_refs"] for p in z["pins"] if p["kind"] in CRASH_KINDS)
        assert refs == z["explained_refs"], f"{z['path']}: a kind crash does not examine"
        if row["explained"] != z["explained_refs"]:
            bad.append(f"{z['path']}: crash explains {row['explained']} refs, "
                       f"drgn {z['explained_refs']}")
        sockets = sum(p["count"] for p in z["pins"] if p["kind"] == "socket")
        if row["pins"]["socket"] != sockets:
            bad.append(f"{z['path']}: crash {row['pins']['socket']} sockets, drgn {sockets}")
    assert not bad, "\n".join(bad[:20])
    assert "unreadable reads outside the memmap" not in out


def test_detail_per_file(crash_out):
    out, report = crash_out
    files = {}
    for line in detail_block(out, DETAIL):
        m = _FILE.match(line)
        if m:
            files[m.group(9)] = {"kind": m.group(1), "pages": int(m.group(2)),
                                 "css_refs": int(m.group(3)), "inode": int(m.group(4), 16),
                                 "ino": int(m.group(5)), "dirty": int(m.group(7)),
                                 "fs": m.group(10), "reparented": bool(m.group(11))}
    z = next(z for z in report["zombies"] if z["path"] == DETAIL)
    want = {p["detail"]["path"]: p for p in z["pins"] if p["kind"] in ("pagecache", "shmem")}
    assert set(files) == set(want)
    for path, p in want.items():
        got = files[path]
        assert (got["kind"], got["pages"], got["css_refs"]) == (p["kind"], p["count"],
                                                                 p["css_refs"]), path
        assert got["inode"] == int(p["detail"]["inode"], 16)
        assert got["ino"] == p["detail"]["ino"]
        assert got["fs"] == p["detail"]["fs"]
        assert got["dirty"] == p["detail"]["dirty"]
        assert got["reparented"] == (p["detail"].get("pins") is False)


def test_detail_sockets(crash_out):
    """`zombies -p /mz/tcp/leaf`: one line per TCP socket, as the drgn pins."""
    out, report = crash_out
    block = detail_block(out, DETAIL_TCP)
    got = {}
    for line in block:
        m = _SOCK.match(line)
        if m:
            got[int(m.group(3), 16)] = {"what": m.group(2), "css_refs": int(m.group(1)),
                                        "bytes": int(m.group(4))}
    z = next(z for z in report["zombies"] if z["path"] == DETAIL_TCP)
    want = {int(p["detail"]["sock"], 16): p for p in z["pins"] if p["kind"] == "socket"}
    assert len(want) == 3, "the test bed's TCP scenario: 2 established, 1 listener"
    assert set(got) == set(want), "\n".join(block)
    for sk, p in want.items():
        assert got[sk] == {"what": p["what"], "css_refs": p["css_refs"],
                           "bytes": p["bytes"]}, hex(sk)
    m = re.match(r"^  explained (\d+) of (\d+) css refs$", block[-1])
    assert m and int(m.group(1)) == z["explained_refs"] == int(m.group(2)), block[-1]
