"""Non-page pinners (swap, sockets, cgroup writeback, per-CPU stock, BPF maps, child
css) read from real vmcores, against what the guest recorded.

One program per vmcore, opened once for the module. On filtered dumps of 6.12 and
7.2 (`makedumpfile -d 31`, see test_dying.py) memcgs may be unreadable: there the
visitors must record faults rather than raise, and whatever they report must agree
with the full dumps."""

from collections import Counter

import pytest

from memcg_zombies.cgroups import for_each_memcg, memcg_path, memcg_state
from memcg_zombies.cli import open_program
from memcg_zombies.pinners import Context, bpf, children, sockets, stock, swap, writeback
from memcg_zombies.report import Fault
from tests.conftest import truth_of
from tests.expect import filtered_drops_pages, swap_window

_PROGRAMS = {}
_PINS = {}

VISITORS = {"swap": swap, "sockets": sockets, "writeback": writeback, "stock": stock,
            "bpf": bpf, "children": children}


def _program(vmcore, vmlinux):
    if vmcore not in _PROGRAMS:
        _PROGRAMS[vmcore] = open_program(vmcore, vmlinux)
    return _PROGRAMS[vmcore]


def _context(prog):
    faults = []
    memcgs = {m.value_(): m for m in for_each_memcg(prog, faults)}
    zombies = {}
    for addr, m in memcgs.items():
        try:
            if memcg_state(m) == "dying":
                zombies[addr] = m
        except Exception as e:  # an unreadable css on a filtered dump
            faults.append(Fault(f"memcg {addr:#x}", str(e), addr))
    return Context(prog, zombies, memcgs, faults)


def pins_of(case, fmt):
    """{visitor: {zombie path: [Pin.to_dict()]}}, and the faults, for one dump."""
    key = (case["vmcores"][fmt], fmt)
    if key not in _PINS:
        ctx = _context(_program(case["vmcores"][fmt], case["vmlinux"]))
        paths = {}
        for addr, m in ctx.zombies.items():
            try:
                paths[addr] = memcg_path(m)
            except Exception:
                paths[addr] = hex(addr)
        out = {}
        for name, module in VISITORS.items():
            found = out[name] = {}
            for addr, pin in module.visit(ctx):  # must not raise, even on d31
                found.setdefault(paths.get(addr, hex(addr)), []).append(pin.to_dict())
        _PINS[key] = out, ctx.faults, set(paths.values())
    return _PINS[key]


def _dying(case, path):
    return truth_of(case)["cgroups"].get(path, {}).get("dying") is True


def test_tcp_sockets(case):
    """The tcp zombie is held by the client and the accepted socket (ESTABLISHED),
    and by the listener, which was created in the cgroup too."""
    path = "/mz/tcp/leaf"
    if not _dying(case, path):
        pytest.skip("tcp zombie freed on this kernel")
    pins = pins_of(case, "kdump")[0]["sockets"].get(path, [])
    est = [p for p in pins if p["what"].endswith("(ESTABLISHED)")]
    assert len(est) == 2, pins
    ports = {p["what"].split()[1] for p in est}
    assert "127.0.0.1:7777" in ports, est
    assert all(p["css_refs"] == 1 and p["count"] == 1 for p in pins)
    # One end holds the unread data in its receive queue, the other its
    # unsent data: zhog queued up to 64 x 64 KiB, at least some of it.
    assert any(p["detail"].get("rmem_alloc", 0) > 0 for p in est), est
    assert any(p["detail"].get("wmem_queued", 0) > 0 for p in est), est
    listen = [p for p in pins if p["what"].endswith("(LISTEN)")]
    assert [p["what"] for p in listen] == ["TCP 127.0.0.1:7777 (LISTEN)"]


def test_task_sockets(case):
    """The sock zombie is held by the sockets its process kept open after moving
    out: a UDP socket and a UNIX stream pair. Each pin is one of the socket inodes
    the guest read from /proc/PID/fd, held open by that pid; every one of them
    (sk_memcg is set for every family) and nothing else."""
    path = "/mz/sock/leaf"
    c = truth_of(case)["cgroups"][path]
    if not _dying(case, path):
        pytest.skip("sock zombie freed on this kernel")
    pins = pins_of(case, "kdump")[0]["sockets"].get(path, [])
    assert sorted(p["detail"].get("ino") for p in pins) == sorted(c["socket_inodes"]), pins
    for p in pins:
        assert p["css_refs"] == 1 and p["count"] == 1
        assert [h.split(" (")[0] for h in p["detail"]["holders"]] == [f"pid {c['socket_pid']}"]
    whats = sorted(p["what"] for p in pins)
    assert whats[0] == "UDP 127.0.0.1:7778", whats
    assert all(w.startswith("UNIX") for w in whats[1:]), whats
    # The datagram it sent itself is unread: charged receive memory.
    assert [p for p in pins if p["what"].startswith("UDP")][0]["detail"]["rmem_alloc"] > 0


def test_swap_entries(case):
    """Swap entries recorded for the swap zombie match memory.swap.current read
    before rmdir: at most 1% fewer (swap-in, swap cache reclaim), more only by
    pages still resident then (expect.swap_window). Each entry holds one id ref,
    so id.ref == entries."""
    path = "/mz/swap/leaf"
    if not _dying(case, path):
        pytest.skip("swap zombie freed on this kernel")
    c = truth_of(case)["cgroups"][path]
    truth = c["memory_swap_current"] // 4096
    pins = pins_of(case, "kdump")[0]["swap"].get(path, [])
    assert len(pins) == 1, pins
    pin = pins[0]
    assert pin["unit"] == "entries" and pin["css_refs"] == 1 and pin["detail"]["on_swap"]
    assert truth * 0.99 <= pin["count"] <= truth + swap_window(c), (pin["count"], truth)
    assert pin["detail"]["id_ref"] == pin["count"]
    assert pin["bytes"] == pin["count"] * 4096


def test_cgroup_writeback(case):
    """The ext4 zombie keeps its cgwb (a dirty file stayed behind); on kernels with
    offline_cgwbs (5.14+) the killed wb is on it."""
    path = "/mz/ext4/leaf"
    if not _dying(case, path):
        pytest.skip("ext4 zombie freed on this kernel")
    (pins, _, _) = pins_of(case, "kdump")
    wbs = pins["writeback"].get(path, [])
    assert len(wbs) == 1, wbs
    wb = wbs[0]
    assert wb["kind"] == "cgwb" and wb["css_refs"] == 1
    assert wb["detail"]["on_offline_cgwbs"] in (True, None)
    assert (wb["detail"]["on_offline_cgwbs"] is None) == (case["kernel"] == "5.10")
    assert sum(wb["detail"]["inodes"].values()) >= 1


def test_children(case):
    path = "/mz/children/parent"
    if not _dying(case, path):
        pytest.skip("children zombies freed on this kernel")
    pins = pins_of(case, "kdump")[0]["children"].get(path, [])
    assert [(p["what"], p["css_refs"]) for p in pins] == [("/mz/children/parent/child", 1)]
    # The child, a leaf, pins nothing through children.
    assert "/mz/children/parent/child" not in pins_of(case, "kdump")[0]["children"]


def test_full_dumps_no_faults(case):
    """stock and bpf (and everything else) read complete dumps without a fault;
    BPF maps: the guests have none."""
    pins, faults, _ = pins_of(case, "kdump")
    assert faults == []
    assert pins["bpf"] == {}
    for path, found in pins["stock"].items():
        assert all(p["kind"] == "stock" for p in found)


def test_formats_agree(case):
    """kdump and ELF dumps of one crash give identical pins."""
    assert pins_of(case, "kdump")[:2] == pins_of(case, "elf")[:2]


def test_filtered_dump(case):
    """`-d 31` dumps: no exception (pins_of ran every visitor); what is found agrees
    with the full dump, except for what lies on excluded pages."""
    full = pins_of(case, "kdump")[0]
    pins, faults, zombies = pins_of(case, "d31")
    if filtered_drops_pages(case, "d31"):
        assert faults, "expected excluded pages on this kernel's filtered dump"
    for name in ("swap", "sockets", "writeback"):
        for path, found in pins[name].items():
            if path in full[name]:
                # What the filtered dump shows is in the full one; less only when
                # pages were excluded (a socket's file or fd table, say).
                want = sorted((p["what"], p["count"]) for p in full[name][path])
                got = sorted((p["what"], p["count"]) for p in found)
                if got == want:
                    continue
                # Excluded pages (faults say which) cost detail, never add pins: a
                # device name, the swap map (then memcg->id.ref alone explains the
                # entries), a socket's file. Every pin found is one of the full dump's,
                # with its count.
                assert faults, (path, got, want)
                assert Counter(n for _, n in got) <= Counter(n for _, n in want), (path, got, want)
